DROP TABLE terminal_config;
DROP TABLE config_heads;
DROP TABLE config_revisions;

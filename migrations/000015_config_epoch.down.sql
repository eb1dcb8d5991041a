ALTER TABLE terminal_config DROP COLUMN computed_epoch;
ALTER TABLE terminals DROP COLUMN config_epoch;

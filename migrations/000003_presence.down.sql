DROP TABLE terminal_status;

ALTER TABLE terminal_status DROP COLUMN history_time;
DROP TABLE health_history;

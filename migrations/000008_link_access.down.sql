DROP TRIGGER terminal_link_access ON terminals;
DROP FUNCTION terminal_link_access();
DROP TABLE link_disconnects;
ALTER TABLE terminals DROP COLUMN uplink_refused_time;

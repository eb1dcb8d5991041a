-- Terminals that are not active may not use the link (issue 14, item 3).
--
-- uplink_refused_time: when the server first refused an uplink of the terminal in its current
-- state; the refusal is audited once, when this goes from NULL to a time, and it is cleared when
-- the terminal becomes active again.
ALTER TABLE terminals ADD COLUMN uplink_refused_time timestamptz;

-- Live broker connections to close: written in the same transaction as the state change (by the
-- trigger below, so no path that changes a state can forget it), read by the server's
-- DisconnectPublisher, which asks every broker to close the connection and then deletes the row.
CREATE TABLE link_disconnects (
  terminal_id  text PRIMARY KEY REFERENCES terminals (id) ON DELETE CASCADE,
  request_time timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION terminal_link_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state IN ('suspended', 'retired') THEN
    INSERT INTO link_disconnects (terminal_id) VALUES (NEW.id)
      ON CONFLICT (terminal_id) DO UPDATE SET request_time = now();
  ELSIF NEW.state = 'active' THEN
    NEW.uplink_refused_time := NULL;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER terminal_link_access BEFORE UPDATE OF state ON terminals
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION terminal_link_access();

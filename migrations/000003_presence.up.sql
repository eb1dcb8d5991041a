-- Live presence and the latest health of each terminal, one row per terminal, written in batches
-- by the link ingest. The session number orders connections: a status from an older session than
-- the one recorded (a Will delivered late) changes nothing.
CREATE TABLE terminal_status (
  terminal_id        text PRIMARY KEY REFERENCES terminals (id) ON DELETE CASCADE,
  online             boolean NOT NULL,
  session            bigint NOT NULL,
  last_seen          timestamptz NOT NULL,
  change_time        timestamptz NOT NULL,  -- when online last flipped
  agent_version      text NOT NULL DEFAULT '',
  battery_percent    int,
  charging           boolean,
  temperature_c      int,
  paper              text,
  signal_dbm         int,
  network            text,
  storage_free_bytes bigint,
  uptime_seconds     bigint,
  versions           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX terminal_status_online_seen ON terminal_status (online, last_seen);

-- Health history: what terminals reported over time (battery, temperature, paper, signal,
-- storage, versions), for trends and for "what happened before it went dark". The link ingest
-- records a heartbeat when the terminal's previous record is older than the sampling interval
-- (terminal_status.history_time), so the volume does not grow with the heartbeat rate.
--
-- Partitioned by UTC day on `time`. Partitions are created ahead of time and dropped once they
-- are older than the retention period by the server's maintenance job
-- (PgStore::MaintainHealthHistory): expiring history is a DROP TABLE, not a DELETE. No foreign
-- key to terminals, so writing history costs one index insert per row; readers join terminals
-- for the tenant scope.
CREATE TABLE health_history (
  terminal_id        text NOT NULL,
  time               timestamptz NOT NULL,
  session            bigint NOT NULL,
  battery_percent    int NOT NULL,
  charging           boolean NOT NULL,
  temperature_c      int NOT NULL,
  paper              text NOT NULL,
  signal_dbm         int NOT NULL,
  network            text NOT NULL,
  storage_free_bytes bigint NOT NULL,
  uptime_seconds     bigint NOT NULL,
  versions           jsonb NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX health_history_terminal_time ON health_history (terminal_id, time);

-- When this terminal's health was last written to health_history (NULL: never).
ALTER TABLE terminal_status ADD COLUMN history_time timestamptz;

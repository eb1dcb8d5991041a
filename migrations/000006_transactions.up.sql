-- Payment transactions reported by terminals (docs/transactions.md).
--
-- Partitioned by calendar month (UTC) on the record's own time. The primary key is the record's
-- identity, (terminal_id, txn_id), plus the partition key that PostgreSQL requires in it: the
-- time is part of the immutable record in the agent's outbox, so a replay carries the same time
-- and lands on the same row (ingest is INSERT ... ON CONFLICT DO NOTHING). The server's
-- maintenance job creates partitions ahead and drops those past the retention period; ingest
-- refuses records outside the kept months rather than failing a batch.
--
-- No full card number is ever stored: masked_pan holds at most the first six and last four
-- digits, and ingest refuses any record with a card number in any field.
CREATE SEQUENCE transactions_id_seq AS bigint CACHE 1000;

CREATE TABLE transactions (
  id            bigint NOT NULL DEFAULT nextval('transactions_id_seq'),  -- arrival order
  tenant_id     text NOT NULL,
  merchant_id   text NOT NULL,   -- the terminal's merchant when the record arrived
  terminal_id   text NOT NULL,
  txn_id        text NOT NULL,
  seq           bigint NOT NULL, -- the agent's outbox sequence
  time          timestamptz NOT NULL,
  type          smallint NOT NULL,   -- posfleet.v1.TxnType
  result        smallint NOT NULL,   -- posfleet.v1.TxnResult
  amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
  currency      char(3) NOT NULL,
  response_code text NOT NULL,
  scheme        text NOT NULL,
  entry_mode    smallint NOT NULL,   -- posfleet.v1.EntryMode
  masked_pan    text NOT NULL,
  stan          text NOT NULL,
  auth_code     text NOT NULL,
  mid           text NOT NULL,
  tid           text NOT NULL,
  receive_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (terminal_id, txn_id, time)
) PARTITION BY RANGE (time);
-- Catches a record whose month has no partition (a race at a month's turn with retention):
-- ingest never fails a whole batch for one record. Normally empty; maintenance deletes expired
-- rows from it.
CREATE TABLE transactions_default PARTITION OF transactions DEFAULT;
CREATE INDEX transactions_tenant_id ON transactions (tenant_id, id);
CREATE INDEX transactions_terminal_time ON transactions (terminal_id, time);

-- When this terminal's newest transaction happened, kept to the minute by ingest; finds terminals
-- that are online but silent without scanning transactions.
ALTER TABLE terminal_status ADD COLUMN last_txn_time timestamptz;

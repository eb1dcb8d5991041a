-- A transaction id is stored once per terminal, whatever its time (issue 14, item 17).
--
-- The partitioned transactions table can only enforce (terminal_id, txn_id, time): a record
-- submitted again under the same id with another time was a second row that reports counted.
-- txn_ids holds each (terminal_id, txn_id) once, unpartitioned, with a hash of the record's
-- content (every field but the outbox seq). Ingest claims the id here first: a new id is
-- inserted into transactions, a known one with the same content is a replay (acknowledged, not
-- stored again), a known one with other content is a conflict (refused, reported to the payment
-- app). Rows expire with the months the transactions are kept (maintenance), so the guarantee
-- holds within the retention window.
CREATE TABLE txn_ids (
  terminal_id    text NOT NULL,
  txn_id         text NOT NULL,
  time           timestamptz NOT NULL,   -- the record's own time (for expiry)
  content_sha256 bytea NOT NULL CHECK (length(content_sha256) = 32),
  PRIMARY KEY (terminal_id, txn_id)
);
CREATE INDEX txn_ids_time ON txn_ids (time);

INSERT INTO txn_ids (terminal_id, txn_id, time, content_sha256)
SELECT DISTINCT ON (terminal_id, txn_id) terminal_id, txn_id, time,
  sha256(convert_to(concat_ws(chr(31), (extract(epoch FROM time) * 1000000)::int8, type, result,
    amount_minor, currency, response_code, scheme, entry_mode, masked_pan, stan, auth_code, mid,
    tid), 'UTF8'))
FROM transactions ORDER BY terminal_id, txn_id, id;

ALTER TABLE terminal_status DROP COLUMN last_txn_time;
DROP TABLE transactions;
DROP SEQUENCE transactions_id_seq;

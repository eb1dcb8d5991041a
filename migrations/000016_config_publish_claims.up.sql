-- The config publisher claims rows for a while instead of holding their locks while it waits for
-- the broker (issue 17): a short transaction sets claim_until, the publish happens outside any
-- transaction, and another records what went out and clears it. A replica that dies between the
-- two leaves its claims to the others once they expire. Nothing that may be retried publishes.
ALTER TABLE terminal_config ADD COLUMN claim_until timestamptz;

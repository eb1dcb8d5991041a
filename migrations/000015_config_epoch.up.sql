-- Which change of a terminal's labels or merchant its desired parameter set was computed from
-- (issue 16). A relabel bumps terminals.config_epoch in its own transaction; a computation
-- records the epoch it read together with the labels. Until they agree the terminal is not "in
-- sync": the set it should have now may not be the one it runs. Timestamps could not say this:
-- a computation that started before a relabel committed would look newer than it.
ALTER TABLE terminals ADD COLUMN config_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE terminal_config ADD COLUMN computed_epoch bigint NOT NULL DEFAULT 0;

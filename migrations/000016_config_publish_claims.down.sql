ALTER TABLE terminal_config DROP COLUMN claim_until;

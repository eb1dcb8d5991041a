-- Keyed hashes cannot be turned back into plain ones: outstanding codes are dropped again.
DELETE FROM activation_codes;
ALTER TABLE activation_codes RENAME COLUMN code_hmac TO code_sha256;

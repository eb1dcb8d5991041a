-- Activation codes are stored as HMAC-SHA256 under the server's code key (--code-key-file), no
-- longer as plain SHA-256, which a copy of the database let anyone reverse offline: 49.5 bits is
-- a few GPU-hours (issue 15). A stored SHA-256 cannot be turned into its HMAC without the code, so
-- the codes outstanding at this upgrade are dropped: issue new ones (they live 7 days at most).
DELETE FROM activation_codes;
ALTER TABLE activation_codes RENAME COLUMN code_sha256 TO code_hmac;

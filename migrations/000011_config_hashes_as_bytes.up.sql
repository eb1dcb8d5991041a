-- Parameter set hashes are SHA-256 digests: stored as their 32 bytes, nothing else fits (issue
-- 14, item 10). As free hex text a column could hold anything a terminal sent, a Luhn-valid run
-- of digits included. "None yet" is NULL rather than ''.
DROP INDEX terminal_config_unpublished;
ALTER TABLE terminal_config
  ALTER COLUMN desired_hash TYPE bytea USING decode(desired_hash, 'hex'),
  ALTER COLUMN published_hash TYPE bytea USING decode(published_hash, 'hex'),
  ALTER COLUMN reported_hash DROP DEFAULT,
  ALTER COLUMN reported_hash DROP NOT NULL,
  ALTER COLUMN reported_hash TYPE bytea USING nullif(decode(reported_hash, 'hex'), ''::bytea),
  ALTER COLUMN rejected_hash DROP DEFAULT,
  ALTER COLUMN rejected_hash DROP NOT NULL,
  ALTER COLUMN rejected_hash TYPE bytea USING nullif(decode(rejected_hash, 'hex'), ''::bytea),
  ADD CONSTRAINT terminal_config_desired_hash_sha256 CHECK (length(desired_hash) = 32),
  ADD CONSTRAINT terminal_config_published_hash_sha256 CHECK (length(published_hash) = 32),
  ADD CONSTRAINT terminal_config_reported_hash_sha256 CHECK (length(reported_hash) = 32),
  ADD CONSTRAINT terminal_config_rejected_hash_sha256 CHECK (length(rejected_hash) = 32);
CREATE INDEX terminal_config_unpublished ON terminal_config (tenant_id)
  WHERE published_hash IS DISTINCT FROM desired_hash;

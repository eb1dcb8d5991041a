DROP INDEX terminal_config_unpublished;
ALTER TABLE terminal_config
  DROP CONSTRAINT terminal_config_desired_hash_sha256,
  DROP CONSTRAINT terminal_config_published_hash_sha256,
  DROP CONSTRAINT terminal_config_reported_hash_sha256,
  DROP CONSTRAINT terminal_config_rejected_hash_sha256,
  ALTER COLUMN desired_hash TYPE text USING encode(desired_hash, 'hex'),
  ALTER COLUMN published_hash TYPE text USING encode(published_hash, 'hex'),
  ALTER COLUMN reported_hash TYPE text USING coalesce(encode(reported_hash, 'hex'), ''),
  ALTER COLUMN reported_hash SET DEFAULT '',
  ALTER COLUMN reported_hash SET NOT NULL,
  ALTER COLUMN rejected_hash TYPE text USING coalesce(encode(rejected_hash, 'hex'), ''),
  ALTER COLUMN rejected_hash SET DEFAULT '',
  ALTER COLUMN rejected_hash SET NOT NULL;
CREATE INDEX terminal_config_unpublished ON terminal_config (tenant_id)
  WHERE published_hash IS DISTINCT FROM desired_hash;

DROP INDEX certificates_public_key;
ALTER TABLE certificates DROP COLUMN certificate_pem;
ALTER TABLE certificates DROP COLUMN public_key_sha256;

-- An agent whose enrollment response was lost retries with the same key and the same (now used)
-- code. Recording the key and the certificate lets the server send that certificate again instead
-- of refusing, so a lost response never strands a terminal.
ALTER TABLE certificates ADD COLUMN public_key_sha256 text;
ALTER TABLE certificates ADD COLUMN certificate_pem text;
CREATE INDEX certificates_public_key ON certificates (terminal_id, public_key_sha256);

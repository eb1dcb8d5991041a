-- Enrollment: one-time activation codes, the certificates issued to terminals, and the fleet CA.

-- At most one live code per terminal: issuing a new one replaces the old. Only the SHA-256 of a
-- code is stored; a used code keeps its row (used_time) so that reuse gets a clear answer.
CREATE TABLE activation_codes (
  terminal_id text PRIMARY KEY REFERENCES terminals (id) ON DELETE CASCADE,
  code_sha256 text NOT NULL UNIQUE,
  expire_time timestamptz NOT NULL,
  used_time   timestamptz,
  create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE certificates (
  serial      text PRIMARY KEY,  -- lowercase hex
  terminal_id text NOT NULL REFERENCES terminals (id),
  not_after   timestamptz NOT NULL,
  issue_time  timestamptz NOT NULL DEFAULT now(),
  revoke_time timestamptz
);
CREATE INDEX certificates_terminal ON certificates (terminal_id);
CREATE INDEX certificates_revoked ON certificates (revoke_time) WHERE revoke_time IS NOT NULL;

-- The fleet CA, when it is not supplied as files: created once by the first replica to start, so
-- that every replica signs with the same key. Deployments that keep the key in a secret store pass
-- --ca-cert/--ca-key instead and this table stays empty.
CREATE TABLE fleet_ca (
  id          int PRIMARY KEY CHECK (id = 1),
  cert_pem    text NOT NULL,
  key_pem     text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);

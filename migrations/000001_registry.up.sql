-- Tenants (acquirers) own merchants; merchants own terminals. Every table has an identity `seq`
-- that orders keyset pagination: rows inserted while a client pages appear at the end.

CREATE TABLE tenants (
  id          text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name        text NOT NULL UNIQUE,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE merchants (
  id          text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  name        text NOT NULL,
  mid         text NOT NULL,
  country     text NOT NULL DEFAULT '' CHECK (country ~ '^([A-Z]{2})?$'),
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, mid),
  UNIQUE (tenant_id, id)  -- lets terminals reference (tenant, merchant) together
);
CREATE INDEX merchants_tenant_seq ON merchants (tenant_id, seq);

CREATE TABLE terminals (
  id          text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  merchant_id text NOT NULL,
  vendor      text NOT NULL,
  model       text NOT NULL,
  serial      text NOT NULL,
  tid         text NOT NULL DEFAULT '',
  labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
  state       text NOT NULL CHECK (state IN ('provisioned', 'active', 'suspended', 'retired')),
  enroll_time timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  -- Bulk import is idempotent on this key.
  UNIQUE (tenant_id, vendor, serial),
  -- A terminal's merchant always belongs to the terminal's tenant: enforced here, not in code.
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id)
);
CREATE INDEX terminals_tenant_seq ON terminals (tenant_id, seq);
CREATE INDEX terminals_merchant_seq ON terminals (merchant_id, seq);
CREATE INDEX terminals_labels ON terminals USING gin (labels jsonb_path_ops);

CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name          text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin', 'operator', 'technician', 'viewer')),
  tenant_id     text REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: global
  secret_sha256 text NOT NULL UNIQUE,  -- the secret itself is never stored
  created_by    text NOT NULL,
  create_time   timestamptz NOT NULL DEFAULT now(),
  revoke_time   timestamptz,
  CHECK (tenant_id IS NOT NULL OR role = 'admin')
);

-- Append-only: written in the same transaction as each change, never updated or deleted. No
-- foreign keys, so the record of a deleted tenant or terminal survives it.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time        timestamptz NOT NULL DEFAULT now(),
  actor_id    text NOT NULL,
  actor_name  text NOT NULL,
  role        text NOT NULL,
  tenant_id   text NOT NULL DEFAULT '',
  method      text NOT NULL,
  target_type text NOT NULL,
  target_id   text NOT NULL,
  summary     text NOT NULL,
  result      text NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_target ON audit_log (target_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

-- The application's role owns these tables, so privileges alone cannot stop it from rewriting
-- history; these triggers do, for every role (superusers could only get past them by disabling
-- triggers explicitly, which itself needs table ownership and leaves a trace in the server log).
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

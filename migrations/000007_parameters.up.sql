-- Terminal parameters (issue 5, docs/parameters.md).

-- A tenant's whole configuration (schema, groups, layered values) at one revision, immutable.
-- `state` is a posfleet.v1.ConfigDocument (protobuf); secret values in it are sealed with
-- AES-256-GCM by the server before they get here.
CREATE TABLE config_revisions (
  tenant_id         text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  revision          bigint NOT NULL CHECK (revision > 0),
  schema_version    bigint NOT NULL,
  author            text NOT NULL,
  message           text NOT NULL,
  summary           text NOT NULL,
  restored_from     bigint NOT NULL DEFAULT 0,
  terminals_changed bigint NOT NULL DEFAULT 0,
  create_time       timestamptz NOT NULL DEFAULT now(),
  state             bytea NOT NULL,
  PRIMARY KEY (tenant_id, revision)
);

-- The newest revision per tenant; its row lock orders changes to one tenant's configuration.
CREATE TABLE config_heads (
  tenant_id text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  revision  bigint NOT NULL
);

-- Per terminal: what it should run (desired), what went out on down/config (published), and
-- what it last reported (applied, or rejected with a reason).
CREATE TABLE terminal_config (
  terminal_id       text PRIMARY KEY REFERENCES terminals (id) ON DELETE CASCADE,
  tenant_id         text NOT NULL,
  desired_revision  bigint NOT NULL,
  desired_hash      text NOT NULL,
  desired_time      timestamptz NOT NULL DEFAULT now(),  -- when desired_hash last changed
  compute_time      timestamptz NOT NULL DEFAULT now(),  -- when it was last computed
  published_hash    text,
  reported_revision bigint NOT NULL DEFAULT 0,
  reported_hash     text NOT NULL DEFAULT '',
  report_time       timestamptz,
  rejected_hash     text NOT NULL DEFAULT '',
  rejected_reason   text NOT NULL DEFAULT ''
);
CREATE INDEX terminal_config_tenant ON terminal_config (tenant_id);
CREATE INDEX terminal_config_unpublished ON terminal_config (tenant_id)
  WHERE published_hash IS DISTINCT FROM desired_hash;

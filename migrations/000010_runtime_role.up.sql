-- Two roles (issue 14, item 13): the schema's owner runs these migrations; the server runs as a
-- member of posfleet_runtime, which may read and write the data but can neither alter, disable
-- nor truncate anything, and may only INSERT and SELECT the audit log. A role that owns a table
-- can always disable its triggers, so the append-only triggers on audit_log alone never stopped
-- the server's own role from rewriting history; privileges do.
--
-- posfleet_runtime is a NOLOGIN group; the server logs in as a member of it (tools/lib/pg-local
-- makes posfleet_app; docs/operations.md says how to make one). Creating it here needs CREATEROLE,
-- so an operator whose owner role lacks that creates the group first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'posfleet_runtime') THEN
    CREATE ROLE posfleet_runtime NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO posfleet_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO posfleet_runtime;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO posfleet_runtime;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM posfleet_runtime;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM posfleet_runtime;
-- Tables and sequences later migrations create (and the partitions below) get the same.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO posfleet_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO posfleet_runtime;

-- Partition upkeep is DDL, which only the owner may do: two functions that run as the owner and
-- do nothing but create or drop a posfleet partition of a posfleet table, named by the rule of
-- server/store/partitions.h.
CREATE FUNCTION posfleet_create_partition(parent text, name text, from_time timestamptz,
                                          to_time timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF parent NOT IN ('transactions', 'health_history')
     OR name !~ ('^' || parent || '_p[0-9]{6}([0-9]{2})?$') THEN
    RAISE EXCEPTION 'not a posfleet partition: % of %', name, parent
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                 name, parent, from_time, to_time);
END
$$;
CREATE FUNCTION posfleet_drop_partition(parent text, name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF parent NOT IN ('transactions', 'health_history')
     OR name !~ ('^' || parent || '_p[0-9]{6}([0-9]{2})?$')
     OR NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = parent::regclass AND c.relname = name) THEN
    RAISE EXCEPTION 'not a posfleet partition: % of %', name, parent
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE format('DROP TABLE %I', name);
END
$$;
REVOKE ALL ON FUNCTION posfleet_create_partition(text, text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION posfleet_drop_partition(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION posfleet_create_partition(text, text, timestamptz, timestamptz)
  TO posfleet_runtime;
GRANT EXECUTE ON FUNCTION posfleet_drop_partition(text, text) TO posfleet_runtime;

DROP FUNCTION posfleet_drop_partition(text, text);
DROP FUNCTION posfleet_create_partition(text, text, timestamptz, timestamptz);
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM posfleet_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM posfleet_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM posfleet_runtime;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM posfleet_runtime;
REVOKE USAGE ON SCHEMA public FROM posfleet_runtime;

#include "server/main/flags.h"

namespace posfleet::server {

Subcommands AddFlags(CLI::App& app, Flags& flags) {
  app.require_subcommand(0, 1);
  app.add_option("--db-url", flags.db_url,
                 "libpq URL; several hosts with target_session_attrs=read-write reach a Patroni "
                 "cluster")
      ->envname("POSFLEET_DB_URL")
      ->required();
  app.add_option("--owner-db-url", flags.owner_db_url,
                 "libpq URL as the schema's owner, for migrations; --db-url is then the runtime "
                 "role, which cannot alter the schema or the audit log (docs/operations.md)")
      ->envname("POSFLEET_OWNER_DB_URL");
  app.add_option("--db-pool-size", flags.db_pool_size, "database connections at most")
      ->check(CLI::Range(1, 256));
  app.add_option("--db-statement-timeout", flags.db_statement_timeout_seconds,
                 "seconds one SQL statement may run before PostgreSQL cancels it; 0: no limit")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--db-wait", flags.db_wait_seconds, "seconds to wait for the database at start-up")
      ->check(CLI::Range(0, 3600));
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  CLI::App* serve = app.add_subcommand("serve", "run the API server (the default)");
  for (CLI::App* a : {&app, serve}) {
    a->add_option("--listen", flags.listen, "operators' gRPC API address host:port")
        ->envname("POSFLEET_LISTEN");
    a->add_option("--device-listen", flags.device_listen,
                  "terminals' gRPC address host:port (enrollment and certificate renewal only)")
        ->envname("POSFLEET_DEVICE_LISTEN");
    a->add_option("--api-memory-mib", flags.api_memory_mib,
                  "memory all calls in flight on --listen may hold; past it gRPC refuses calls")
        ->check(CLI::Range(16, 1 << 20));
    a->add_option("--device-memory-mib", flags.device_memory_mib,
                  "memory all calls in flight on --device-listen may hold")
        ->check(CLI::Range(4, 1 << 20));
    a->add_option("--metrics-listen", flags.metrics_listen,
                  "Prometheus /metrics and /healthz address host:port; empty disables");
    a->add_option("--tls-cert", flags.tls_cert, "PEM certificate for both gRPC listeners");
    a->add_option("--tls-key", flags.tls_key, "PEM key for both gRPC listeners");
    a->add_option("--bootstrap-token-file", flags.bootstrap_token_file,
                  "write a freshly created first admin token here (mode 0600) instead of stdout");
    a->add_option("--broker-address", flags.broker_address,
                  "MQTT broker address handed to enrolled terminals")
        ->envname("POSFLEET_BROKER_ADDRESS");
    a->add_option("--ca-cert", flags.ca_cert,
                  "fleet CA certificate (PEM); default: created once and kept in the database");
    a->add_option("--ca-key", flags.ca_key, "fleet CA private key (PEM), with --ca-cert");
    a->add_option("--cert-validity-days", flags.cert_validity_days,
                  "validity of terminal certificates")
        ->check(CLI::Range(1, 825));
    a->add_option("--crl-file", flags.crl_file,
                  "keep the broker's CRL here, in step with revocations; empty: do not");
    a->add_option("--broker-pid-file", flags.broker_pid_file,
                  "SIGHUP this broker after the CRL changes");
    a->add_option("--params-key-file", flags.params_key_file,
                  "256-bit key (64 hex digits) sealing secret parameters at rest; the same on "
                  "every replica")
        ->envname("POSFLEET_PARAMS_KEY_FILE");
    a->add_option("--code-key-file", flags.code_key_file,
                  "activation codes are stored under this key (64 hex digits, the same on every "
                  "replica)")
        ->envname("POSFLEET_CODE_KEY_FILE");
    a->add_option("--params-retired-key-file", flags.params_retired_key_files,
                  "a key being rotated out: it still opens sealed values, never seals (repeat "
                  "for several); see `params-reseal`");
    a->add_option("--config-refresh", flags.config_refresh_seconds,
                  "seconds between recomputing the parameters of terminals that appeared or "
                  "changed labels or merchant")
        ->check(CLI::Range(1, 3600));
    a->add_option("--mqtt-url", flags.mqtt_url,
                  "broker to read terminal uplinks from, e.g. ssl://127.0.0.1:8883; empty: none")
        ->envname("POSFLEET_MQTT_URL");
    a->add_option("--mqtt-ca", flags.mqtt_ca, "CA that signed the broker's certificate (PEM)");
    a->add_option("--mqtt-cert", flags.mqtt_cert,
                  "this server's MQTT client certificate, CN posfleet-server (PEM)");
    a->add_option("--mqtt-key", flags.mqtt_key, "its private key (PEM)");
    a->add_option("--limit-token-rate", flags.limit_token_rate,
                  "API calls a second one token may start (twice as many at once); 0: no limit")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--limit-tenant-rate", flags.limit_tenant_rate,
                  "API calls a second all of one tenant's tokens may start; 0: no limit")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--limit-streams-per-token", flags.limit_streams_per_token,
                  "WatchTerminals streams one token may hold open; 0: no limit")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--limit-streams-per-tenant", flags.limit_streams_per_tenant,
                  "streams all of one tenant's tokens may hold open; 0: no limit")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--limit-calls-per-tenant", flags.limit_calls_per_tenant,
                  "API calls of one tenant under way at once, its share of the database pool "
                  "(default: half of --db-pool-size); 0: no limit")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--enroll-parallel-per-source", flags.enroll_parallel_per_source,
                  "enrollments one network address may have under way at once (more wait)")
        ->check(CLI::Range(1, 100000));
    a->add_option("--offline-timeout", flags.offline_timeout_seconds,
                  "seconds without a sign of life before a terminal counts as offline")
        ->check(CLI::Range(5, 86400));
    a->add_option("--health-history-every", flags.history_every_seconds,
                  "seconds between a terminal's samples in the health history; 0: every heartbeat")
        ->check(CLI::Range(0, 86400));
    a->add_option("--health-history-days", flags.history_days,
                  "days of health history to keep; 0: keep none")
        ->check(CLI::Range(0, 3660));
    a->add_option("--txn-retention-months", flags.txn_retention_months,
                  "months of transactions kept and queryable, the current one included; older "
                  "monthly partitions are dropped")
        ->check(CLI::Range(1, 120));
    a->add_option("--txn-batch-max", flags.txn_batch_max,
                  "transaction records written to PostgreSQL in one commit at most")
        ->check(CLI::Range(1, 50000));
    a->add_option("--txn-writers", flags.txn_writers,
                  "threads committing transactions concurrently (one database connection each)")
        ->check(CLI::Range(1, 16));
    a->add_option("--txn-pending-max", flags.txn_pending_max,
                  "records held in memory waiting for PostgreSQL; beyond this, batches are left "
                  "unacknowledged (terminals keep them and send again)")
        ->check(CLI::Range(100, 10000000));
    a->add_option("--link-connections", flags.link_connections,
                  "MQTT connections this replica reads uplinks with (one shared-subscription "
                  "member each)")
        ->check(CLI::Range(1, 32));
  }
  CLI::App* migrate = app.add_subcommand("migrate", "apply (or revert) schema migrations and exit");
  migrate->add_flag("--status", flags.migrate_status, "print the schema version and exit");
  migrate->add_option("--down-to", flags.down_to, "revert migrations newer than this version")
      ->check(CLI::NonNegativeNumber);
  CLI::App* certs = app.add_subcommand(
      "broker-certs", "write the broker's certificates from the fleet CA and exit");
  certs->add_option("--out", flags.certs_out, "existing directory to write into")
      ->required()
      ->check(CLI::ExistingDirectory);
  certs->add_option("--san", flags.broker_sans,
                    "DNS names or IP addresses of the broker and the gRPC listener");
  certs->add_option("--ca-cert", flags.ca_cert, "fleet CA certificate (PEM)");
  certs->add_option("--ca-key", flags.ca_key, "fleet CA private key (PEM)");
  CLI::App* reseal = app.add_subcommand(
      "params-reseal",
      "key rotation: reseal every stored secret parameter with --params-key-file and exit");
  reseal->add_option("--params-key-file", flags.params_key_file, "the new key (64 hex digits)")
      ->envname("POSFLEET_PARAMS_KEY_FILE")
      ->required();
  reseal->add_option("--params-retired-key-file", flags.params_retired_key_files,
                     "the key(s) being rotated out");
  return Subcommands{serve, migrate, certs, reseal};
}

std::string CheckFlags(const Flags& flags) {
  if (!flags.tls_cert.empty() != !flags.tls_key.empty()) {
    return "--tls-cert and --tls-key go together";
  }
  if (!flags.mqtt_url.empty() &&
      (flags.mqtt_ca.empty() || flags.mqtt_cert.empty() || flags.mqtt_key.empty())) {
    return "--mqtt-url needs --mqtt-ca, --mqtt-cert and --mqtt-key";
  }
  if (!flags.ca_cert.empty() != !flags.ca_key.empty()) {
    return "--ca-cert and --ca-key go together";
  }
  return "";
}

}  // namespace posfleet::server

// posfleet-server: wiring only. Flags, database, migrations, bootstrap token, gRPC API, metrics,
// signals.

#include <httplib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/pki.h"
#include "common/process.h"
#include "common/random.h"
#include "common/secret_box.h"
#include "common/status_macros.h"
#include "server/api/api_server.h"
#include "server/core/token_registry.h"
#include "server/jobs/maintenance.h"
#include "server/jobs/offline_detector.h"
#include "server/link/config_publisher.h"
#include "server/link/crl_publisher.h"
#include "server/link/disconnect_publisher.h"
#include "server/link/link_ingest.h"
#include "server/store/migrator.h"
#include "server/store/pg_change_feed.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"

namespace posfleet {
namespace {

struct Flags {
  std::string db_url;
  std::string owner_db_url;  // the schema owner, for migrations; empty: db_url
  std::string listen = "127.0.0.1:7443";
  std::string device_listen = "127.0.0.1:7444";
  int api_memory_mib = 256;
  int device_memory_mib = 32;
  std::string metrics_listen = "127.0.0.1:9464";
  std::string tls_cert;
  std::string tls_key;
  std::string log_level = "info";
  std::string bootstrap_token_file;
  std::string broker_address = "ssl://127.0.0.1:8883";
  std::string ca_cert;
  std::string ca_key;
  int cert_validity_days = 90;
  std::string crl_file;
  std::string mqtt_url;
  std::string mqtt_ca;
  std::string mqtt_cert;
  std::string mqtt_key;
  int offline_timeout_seconds = 90;
  int enroll_parallel_per_source = 16;
  int history_every_seconds = 300;
  int history_days = 30;
  int txn_retention_months = 13;
  int txn_batch_max = 2000;
  int txn_writers = 2;
  int txn_pending_max = 50000;
  int link_connections = 2;
  std::string broker_pid_file;
  std::string params_key_file;
  std::string code_key_file;
  std::vector<std::string> params_retired_key_files;
  int config_refresh_seconds = 15;
  std::string certs_out;
  std::vector<std::string> broker_sans = {"127.0.0.1", "localhost"};
  int db_pool_size = 8;
  double db_statement_timeout_seconds = 15;
  double limit_token_rate = 50;
  double limit_tenant_rate = 200;
  int limit_streams_per_token = 8;
  int limit_streams_per_tenant = 32;
  int limit_calls_per_tenant = -1;  // half the pool
  int db_wait_seconds = 60;
  int down_to = -1;
};

// The box for secret parameters: the current key and any retired ones (a rotation in progress).
// nullopt without --params-key-file.
absl::StatusOr<std::optional<SecretBox>> LoadParamsBox(const Flags& flags) {
  if (flags.params_key_file.empty()) {
    if (!flags.params_retired_key_files.empty()) {
      return absl::InvalidArgumentError("--params-retired-key-file needs --params-key-file");
    }
    return std::optional<SecretBox>();
  }
  absl::StatusOr<SecretBox> box = SecretBox::FromFile(flags.params_key_file);
  if (!box.ok()) {
    return absl::Status(box.status().code(),
                        absl::StrCat("--params-key-file: ", box.status().message()));
  }
  for (const std::string& path : flags.params_retired_key_files) {
    if (absl::Status s = box->AddRetiredKeyFile(path); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--params-retired-key-file: ", s.message()));
    }
  }
  return std::optional<SecretBox>(*std::move(box));
}

// The role migrations run as: the schema's owner.
const std::string& MigrationUrl(const Flags& flags) {
  return flags.owner_db_url.empty() ? flags.db_url : flags.owner_db_url;
}

// Waits for the database to accept connections and applies pending migrations.
absl::Status Migrate(const Flags& flags) {
  Env& env = RealEnv();
  const absl::Time deadline = env.Now() + absl::Seconds(flags.db_wait_seconds);
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    auto applied = store::MigrateUp(MigrationUrl(flags), store::EmbeddedMigrations());
    if (applied.ok()) {
      int fresh = 0;
      for (const auto& m : *applied) fresh += m.applied_now;
      spdlog::info("schema at version {} ({} migration(s) applied now)",
                   applied->empty() ? 0 : applied->back().version, fresh);
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(applied.status()) || env.Now() + backoff > deadline) {
      return applied.status();
    }
    spdlog::info("waiting for the database: {}", applied.status().message());
    env.SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

// Creates the first global admin token if there is none: from POSFLEET_BOOTSTRAP_TOKEN when set,
// otherwise a fresh one, printed once (or written to --bootstrap-token-file, mode 0600).
absl::Status Bootstrap(core::Store& store, const Flags& flags) {
  const char* env = std::getenv("POSFLEET_BOOTSTRAP_TOKEN");
  core::TokenRegistry tokens(store, store);
  auto secret = tokens.Bootstrap(env ? env : "");
  if (!secret.ok()) return secret.status();
  if (secret->empty()) {
    if (env) {
      spdlog::info("a global admin token exists already; POSFLEET_BOOTSTRAP_TOKEN was not stored");
    }
    return absl::OkStatus();
  }
  if (env) {
    spdlog::info("created the first global admin token from POSFLEET_BOOTSTRAP_TOKEN");
    return absl::OkStatus();
  }
  if (!flags.bootstrap_token_file.empty()) {
    const mode_t old = umask(077);
    std::ofstream out(flags.bootstrap_token_file, std::ios::trunc);
    umask(old);
    out << *secret << "\n";
    if (!out) return absl::InvalidArgumentError("--bootstrap-token-file: cannot write");
    spdlog::info("created the first global admin token; written to {}", flags.bootstrap_token_file);
    return absl::OkStatus();
  }
  std::cout << "posfleet-server: created the first global admin token. It is shown only once:\n"
            << "  " << *secret << "\n"
            << std::flush;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fleet CA: from --ca-cert/--ca-key when given (a secret store's files), otherwise the one in
// the database, created by the first replica that starts.
absl::StatusOr<pki::CertAndKey> LoadCa(core::Store& store, const Flags& flags) {
  if (!flags.ca_cert.empty()) {
    pki::CertAndKey ca;
    ASSIGN_OR_RETURN(ca.cert_pem, ReadFile("--ca-cert", flags.ca_cert));
    ASSIGN_OR_RETURN(ca.key_pem, ReadFile("--ca-key", flags.ca_key));
    if (!pki::InspectCert(ca.cert_pem).ok()) {
      return absl::InvalidArgumentError("--ca-cert: not a PEM certificate");
    }
    return ca;
  }
  ASSIGN_OR_RETURN(pki::CertAndKey fresh,
                   pki::CreateCa("posfleet fleet CA", absl::Hours(24 * 3650)));
  return store.LoadOrStoreCa(fresh);
}

// Blocks until SIGINT or SIGTERM.
void WaitForSignal() {
  int sig = WaitForTerminationSignal();
  spdlog::info("signal {}: shutting down", sig);
}

int Serve(const Flags& flags) {
  Env& env = RealEnv();
  // Before anything else, so that a missing key stops the server at once.
  absl::StatusOr<std::string> code_key = ReadKeyFile(flags.code_key_file);
  if (flags.code_key_file.empty() || !code_key.ok()) {
    spdlog::error(
        "--code-key-file: {} (activation codes are stored under this key, the same on every "
        "replica; make one with `openssl rand -hex 32`, keep it like the parameter key)",
        flags.code_key_file.empty() ? std::string("is required") : code_key.status().message());
    return 2;
  }
  if (absl::Status s = Migrate(flags); !s.ok()) {
    spdlog::error("--db-url: cannot prepare the database: {}", s.ToString());
    return 1;
  }
  if (flags.owner_db_url.empty()) {
    spdlog::warn(
        "no --owner-db-url: the server runs as the schema's owner, which could alter the audit "
        "log; give the owner for migrations and a runtime role as --db-url (docs/operations.md)");
  }
  store::PgPool pool(flags.db_url, flags.db_pool_size,
                     absl::Seconds(flags.db_statement_timeout_seconds));
  store::PgStore store(pool);
  if (absl::Status s = Bootstrap(store, flags); !s.ok()) {
    spdlog::error("bootstrap admin token: {}", s.ToString());
    return 1;
  }
  absl::StatusOr<pki::CertAndKey> ca = LoadCa(store, flags);
  if (!ca.ok()) {
    spdlog::error("fleet CA: {}", ca.status().ToString());
    return 1;
  }
  core::EnrollmentSettings enrollment{*ca, flags.broker_address,
                                      absl::Hours(24 * flags.cert_validity_days)};
  enrollment.throttle.concurrent_per_source = flags.enroll_parallel_per_source;
  enrollment.code_key = *std::move(code_key);
  std::unique_ptr<link::CrlPublisher> crl;
  if (!flags.crl_file.empty()) {
    crl = std::make_unique<link::CrlPublisher>(
        store, *ca, env, link::CrlPublisherOptions{flags.crl_file, flags.broker_pid_file});
    crl->Start();
    spdlog::info("publishing the CRL to {}", flags.crl_file);
  }
  Counters counters;
  // Partitions for today and the days (months) ahead exist before the first heartbeat
  // (transaction) is written.
  jobs::MaintenanceOptions maintenance_options;
  maintenance_options.history_retention = absl::Hours(24 * flags.history_days);
  maintenance_options.health_history = flags.history_days > 0;
  maintenance_options.txn_retention_months = flags.txn_retention_months;
  jobs::Maintenance maintenance(store, counters, env, maintenance_options);
  if (absl::Status s = maintenance.RunOnce(); !s.ok()) {
    spdlog::warn("maintenance: {} (retrying hourly)", s.ToString());
  }
  maintenance.Start();
  store::PgChangeFeed feed(flags.db_url, env);
  absl::StatusOr<std::optional<SecretBox>> params_box = LoadParamsBox(flags);
  if (!params_box.ok()) {
    spdlog::error("{}", params_box.status().ToString());
    return 1;
  }
  if (!*params_box) {
    spdlog::warn("no --params-key-file: secret parameters cannot be set or published");
  } else if ((*params_box)->retired_keys() > 0) {
    spdlog::warn(
        "{} retired parameter key(s) still open sealed values: run `posfleet-server "
        "params-reseal`, then restart without them",
        (*params_box)->retired_keys());
  }
  const SecretBox* box = *params_box ? &**params_box : nullptr;
  std::unique_ptr<link::LinkIngest> ingest;
  std::unique_ptr<link::ConfigPublisher> config_publisher;
  std::unique_ptr<link::DisconnectPublisher> disconnects;
  std::unique_ptr<jobs::OfflineDetector> offline;
  if (!flags.mqtt_url.empty()) {
    link::LinkIngestOptions o;
    o.broker.broker_url = flags.mqtt_url;
    o.broker.ca_file = flags.mqtt_ca;
    o.broker.cert_file = flags.mqtt_cert;
    o.broker.key_file = flags.mqtt_key;
    o.broker.client_id = NewId("posfleet-server");
    o.broker.connections = flags.link_connections;
    o.presence.history_every =
        flags.history_days > 0 ? absl::Seconds(flags.history_every_seconds) : core::kNoHistory;
    o.txn_retention_months = flags.txn_retention_months;
    o.txn.batch_max = static_cast<size_t>(flags.txn_batch_max);
    o.txn.writers = flags.txn_writers;
    o.txn.pending_max = static_cast<size_t>(flags.txn_pending_max);
    ingest = std::make_unique<link::LinkIngest>(store, counters, env, o);
    if (absl::Status s = ingest->Start(); !s.ok()) {
      spdlog::error("--mqtt-url: {}", s.ToString());
      return 1;
    }
    link::ConfigPublisherOptions co;
    co.refresh_interval = absl::Seconds(std::max(1, flags.config_refresh_seconds));
    link::BrokerLink* broker = &ingest->broker();
    config_publisher = std::make_unique<link::ConfigPublisher>(
        store,
        [broker](const std::vector<std::pair<std::string, std::string>>& messages,
                 absl::Duration timeout) { return broker->PublishRetained(messages, timeout); },
        box, counters, env, co);
    config_publisher->Start();
    disconnects =
        std::make_unique<link::DisconnectPublisher>(store, ingest->broker(), counters, env);
    disconnects->Start();
    jobs::OfflineDetectorOptions oo;
    oo.timeout = absl::Seconds(flags.offline_timeout_seconds);
    offline = std::make_unique<jobs::OfflineDetector>(store, counters, env, oo);
    offline->Start();
  }
  api::ConfigSettings config_settings;
  config_settings.box = box;
  config_settings.on_change = [p = config_publisher.get()] {
    if (p != nullptr) p->Wake();
  };
  core::CallLimitOptions limits;
  limits.token_rate = flags.limit_token_rate;
  limits.token_burst = 2 * flags.limit_token_rate;
  limits.tenant_rate = flags.limit_tenant_rate;
  limits.tenant_burst = 2 * flags.limit_tenant_rate;
  limits.streams_per_token = flags.limit_streams_per_token;
  limits.streams_per_tenant = flags.limit_streams_per_tenant;
  limits.calls_per_tenant = flags.limit_calls_per_tenant >= 0 ? flags.limit_calls_per_tenant
                                                              : std::max(1, flags.db_pool_size / 2);
  api::ApiServer server(env, store, counters, feed, enrollment, config_settings, limits);
  api::ApiServerOptions options;
  options.listen = flags.listen;
  options.device_listen = flags.device_listen;
  options.tls_cert_file = flags.tls_cert;
  options.tls_key_file = flags.tls_key;
  options.api_memory_bytes = int64_t{flags.api_memory_mib} << 20;
  options.device_memory_bytes = int64_t{flags.device_memory_mib} << 20;
  if (absl::Status s = server.Start(options); !s.ok()) {
    spdlog::error("--listen/--device-listen/--tls-*: {}", s.ToString());
    return 1;
  }
  const char* transport = flags.tls_cert.empty() ? "plaintext" : "TLS";
  spdlog::info("gRPC API listening on port {} ({}); terminals enroll on port {}", server.port(),
               transport, server.device_port());

  httplib::Server metrics;
  std::thread metrics_thread;
  if (!flags.metrics_listen.empty()) {
    const size_t colon = flags.metrics_listen.rfind(':');
    const std::string host = flags.metrics_listen.substr(0, colon);
    const int port =
        colon == std::string::npos ? -1 : std::atoi(flags.metrics_listen.c_str() + colon + 1);
    if (port <= 0 || !metrics.bind_to_port(host, port)) {
      spdlog::error("--metrics-listen: cannot listen on {}", flags.metrics_listen);
      return 1;
    }
    metrics.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(counters.Render(), "text/plain; version=0.0.4");
    });
    metrics.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
      const absl::Status s = pool.Ping();
      res.status = s.ok() ? 200 : 503;
      res.set_content(s.ok() ? "ok\n" : s.ToString() + "\n", "text/plain");
    });
    metrics_thread = std::thread([&] { metrics.listen_after_bind(); });
    spdlog::info("metrics on http://{}/metrics", flags.metrics_listen);
  }

  // Health follows the database: NOT_SERVING while it is unreachable.
  absl::Notification stop;
  std::thread health([&] {
    bool serving = true;
    while (!env.WaitForNotification(stop, absl::Seconds(5))) {
      const bool ok = pool.Ping().ok();
      if (ok != serving) {
        spdlog::warn("database {}", ok ? "reachable again" : "unreachable: reporting NOT_SERVING");
        server.SetServing(ok);
        serving = ok;
      }
    }
  });

  WaitForSignal();
  if (offline) offline->Stop();
  if (disconnects) disconnects->Stop();
  if (config_publisher) config_publisher->Stop();
  if (ingest) ingest->Stop();
  maintenance.Stop();
  stop.Notify();
  health.join();
  server.Shutdown();
  if (metrics_thread.joinable()) {
    metrics.stop();
    metrics_thread.join();
  }
  return 0;
}

// Writes what a deployment needs from the fleet CA: ca.pem, broker.pem/.key (the broker's server
// certificate for --san names), crl.pem, posfleet-server.pem/.key (the server's own MQTT client
// identity) and api.pem/.key (a server certificate for the gRPC listener, for the same names: a
// terminal provisioned with ca.pem authenticates the server it enrolls with).
int BrokerCertsCommand(const Flags& flags) {
  if (absl::Status s = Migrate(flags); !s.ok()) {
    std::cerr << "broker-certs: " << s.ToString() << "\n";
    return 1;
  }
  store::PgPool pool(flags.db_url, 2);
  store::PgStore store(pool);
  auto ca = LoadCa(store, flags);
  if (!ca.ok()) {
    std::cerr << "broker-certs: " << ca.status().ToString() << "\n";
    return 1;
  }
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = flags.certs_out + "/" + name;
    const mode_t old = umask(0777 & ~mode);
    std::ofstream out(path, std::ios::trunc);
    umask(old);
    out << text;
    return static_cast<bool>(out);
  };
  auto issue = [&](const std::string& cn, pki::Usage usage, const std::vector<std::string>& sans,
                   const std::string& name) -> absl::Status {
    ASSIGN_OR_RETURN(std::string key, pki::NewPrivateKey());
    ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key, cn));
    ASSIGN_OR_RETURN(pki::Issued cert,
                     pki::SignCsr(*ca, csr, cn, absl::Hours(24 * 365), usage, sans));
    if (!write(name + ".pem", cert.cert_pem, 0644) || !write(name + ".key", key, 0600)) {
      return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", name));
    }
    return absl::OkStatus();
  };
  auto revoked = store.RevokedCertificates();
  absl::StatusOr<std::string> crl =
      revoked.ok() ? pki::MakeCrl(*ca, *revoked, absl::Hours(24)) : revoked.status();
  absl::Status s = crl.status();
  if (s.ok() && !write("ca.pem", ca->cert_pem, 0644)) s = absl::InvalidArgumentError("--out");
  if (s.ok() && !write("crl.pem", *crl, 0644)) s = absl::InvalidArgumentError("--out");
  if (s.ok()) s = issue("broker", pki::Usage::kServer, flags.broker_sans, "broker");
  if (s.ok()) s = issue("posfleet-server", pki::Usage::kClient, {}, "posfleet-server");
  if (s.ok()) s = issue("posfleet-api", pki::Usage::kServer, flags.broker_sans, "api");
  if (!s.ok()) {
    std::cerr << "broker-certs: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << "wrote ca.pem, crl.pem, broker.pem/.key, posfleet-server.pem/.key, api.pem/.key to "
            << flags.certs_out << "\n";
  return 0;
}

// Key rotation: reseals every stored secret parameter value, in every revision of every tenant,
// with --params-key-file, opening them with it or a --params-retired-key-file.
int ParamsResealCommand(const Flags& flags) {
  absl::StatusOr<std::optional<SecretBox>> box = LoadParamsBox(flags);
  if (!box.ok() || !*box) {
    std::cerr << "params-reseal: "
              << (box.ok() ? "--params-key-file is required" : box.status().ToString()) << "\n";
    return 2;
  }
  if (absl::Status s = Migrate(flags); !s.ok()) {
    std::cerr << "params-reseal: " << s.ToString() << "\n";
    return 1;
  }
  store::PgPool pool(flags.db_url, 2);
  store::PgStore store(pool);
  const SecretBox& b = **box;
  core::AuditEntry audit;
  audit.actor_id = "posfleet-server";
  audit.actor_name = "params-reseal";
  audit.role = core::Role::kAdmin;
  audit.method = "posfleet-server params-reseal";
  audit.target_type = "config";
  absl::StatusOr<core::ResealResult> r = store.ResealConfigSecrets(
      [&b](const std::string& sealed) { return b.Reseal(sealed); }, audit);
  if (!r.ok()) {
    std::cerr << "params-reseal: " << r.status().ToString()
              << " (nothing of that tenant changed; is a retired key missing?)\n";
    return 1;
  }
  std::cout << "resealed " << r->values << " secret value(s) in " << r->revisions
            << " revision(s) of " << r->tenants
            << " tenant(s); every stored secret now opens with the current key\n";
  return 0;
}

int MigrateCommand(const Flags& flags, bool down, bool status) {
  if (status) {
    auto version = store::CurrentVersion(MigrationUrl(flags));
    if (!version.ok()) {
      std::cerr << "migrate status: " << version.status().ToString() << "\n";
      return 1;
    }
    const auto& all = store::EmbeddedMigrations();
    std::cout << "database at version " << *version << "; this binary knows up to "
              << (all.empty() ? 0 : all.back().version) << "\n";
    return 0;
  }
  absl::Status s =
      down ? store::MigrateDown(MigrationUrl(flags), store::EmbeddedMigrations(), flags.down_to)
           : Migrate(flags);
  if (!s.ok()) {
    std::cerr << "migrate: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace posfleet

int main(int argc, char** argv) {
  using posfleet::Flags;
  // Signals are taken by sigwait in Serve; block them before any thread starts.
  posfleet::BlockTerminationSignals();
  posfleet::DisableMutexDeadlockDetection();

  Flags flags;
  CLI::App app{"posfleet-server: terminal management API for fleets of payment terminals"};
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
  bool down = false, status = false;
  migrate->add_flag("--status", status, "print the schema version and exit");
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
  CLI11_PARSE(app, argc, argv);
  down = flags.down_to >= 0;
  if (!flags.tls_cert.empty() != !flags.tls_key.empty()) {
    std::cerr << "--tls-cert and --tls-key go together\n";
    return 2;
  }
  if (!flags.mqtt_url.empty() &&
      (flags.mqtt_ca.empty() || flags.mqtt_cert.empty() || flags.mqtt_key.empty())) {
    std::cerr << "--mqtt-url needs --mqtt-ca, --mqtt-cert and --mqtt-key\n";
    return 2;
  }
  if (!flags.ca_cert.empty() != !flags.ca_key.empty()) {
    std::cerr << "--ca-cert and --ca-key go together\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  if (migrate->parsed()) return posfleet::MigrateCommand(flags, down, status);
  if (certs->parsed()) return posfleet::BrokerCertsCommand(flags);
  if (reseal->parsed()) return posfleet::ParamsResealCommand(flags);
  return posfleet::Serve(flags);
}

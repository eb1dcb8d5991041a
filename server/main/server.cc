#include "server/main/server.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/main/setup.h"

namespace posfleet::server {
namespace {

absl::Status Prefixed(absl::string_view prefix, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.ToString()));
}

}  // namespace

Server::Server(const Flags& flags) : flags_(flags), env_(RealEnv()) {}

Server::~Server() { Stop(); }

absl::Status Server::Start(std::string code_key) {
  started_ = true;
  RETURN_IF_ERROR(StartStore());
  RETURN_IF_ERROR(StartJobs());
  RETURN_IF_ERROR(OpenParamsBox());
  if (!flags_.mqtt_url.empty()) RETURN_IF_ERROR(StartLink());
  RETURN_IF_ERROR(StartApi(std::move(code_key)));
  RETURN_IF_ERROR(StartMetrics());
  StartHealth();
  return absl::OkStatus();
}

void Server::Stop() {
  if (!started_) return;
  started_ = false;
  if (health_.joinable()) {
    stop_health_.Notify();
    health_.join();
  }
  if (metrics_thread_.joinable()) {
    metrics_->stop();
    metrics_thread_.join();
  }
  if (api_) api_->Shutdown();
  if (offline_) offline_->Stop();
  if (disconnects_) disconnects_->Stop();
  if (config_publisher_) config_publisher_->Stop();
  if (ingest_) ingest_->Stop();
  if (maintenance_) maintenance_->Stop();
  if (crl_) crl_->Stop();
}

absl::Status Server::StartStore() {
  if (absl::Status s = Migrate(flags_); !s.ok()) {
    return Prefixed("--db-url: cannot prepare the database", s);
  }
  if (flags_.owner_db_url.empty()) {
    spdlog::warn(
        "no --owner-db-url: the server runs as the schema's owner, which could alter the audit "
        "log; give the owner for migrations and a runtime role as --db-url (docs/operations.md)");
  }
  pool_ = std::make_unique<store::PgPool>(flags_.db_url, flags_.db_pool_size,
                                          absl::Seconds(flags_.db_statement_timeout_seconds));
  store_ = std::make_unique<store::PgStore>(*pool_);
  if (absl::Status s = Bootstrap(*store_, flags_); !s.ok()) {
    return Prefixed("bootstrap admin token", s);
  }
  absl::StatusOr<pki::CertAndKey> ca = LoadCa(*store_, flags_);
  if (!ca.ok()) return Prefixed("fleet CA", ca.status());
  ca_ = *std::move(ca);
  feed_ = std::make_unique<store::PgChangeFeed>(flags_.db_url, env_);
  return absl::OkStatus();
}

absl::Status Server::StartJobs() {
  if (!flags_.crl_file.empty()) {
    crl_ = std::make_unique<link::CrlPublisher>(
        *store_, *ca_, env_, link::CrlPublisherOptions{flags_.crl_file, flags_.broker_pid_file});
    crl_->Start();
    spdlog::info("publishing the CRL to {}", flags_.crl_file);
  }
  // Partitions for today and the days (months) ahead exist before the first heartbeat
  // (transaction) is written.
  jobs::MaintenanceOptions o;
  o.history_retention = absl::Hours(24 * flags_.history_days);
  o.health_history = flags_.history_days > 0;
  o.txn_retention_months = flags_.txn_retention_months;
  maintenance_ = std::make_unique<jobs::Maintenance>(*store_, counters_, env_, o);
  if (absl::Status s = maintenance_->RunOnce(); !s.ok()) {
    spdlog::warn("maintenance: {} (retrying hourly)", s.ToString());
  }
  maintenance_->Start();
  return absl::OkStatus();
}

absl::Status Server::OpenParamsBox() {
  ASSIGN_OR_RETURN(box_, LoadParamsBox(flags_));
  if (!box_) {
    spdlog::warn("no --params-key-file: secret parameters cannot be set or published");
  } else if (box_->retired_keys() > 0) {
    spdlog::warn(
        "{} retired parameter key(s) still open sealed values: run `posfleet-server "
        "params-reseal`, then restart without them",
        box_->retired_keys());
  }
  return absl::OkStatus();
}

absl::Status Server::StartLink() {
  link::LinkIngestOptions o;
  o.broker.broker_url = flags_.mqtt_url;
  o.broker.ca_file = flags_.mqtt_ca;
  o.broker.cert_file = flags_.mqtt_cert;
  o.broker.key_file = flags_.mqtt_key;
  o.broker.client_id = NewId("posfleet-server");
  o.broker.connections = flags_.link_connections;
  o.presence.history_every =
      flags_.history_days > 0 ? absl::Seconds(flags_.history_every_seconds) : core::kNoHistory;
  o.txn_retention_months = flags_.txn_retention_months;
  o.txn.batch_max = static_cast<size_t>(flags_.txn_batch_max);
  o.txn.writers = flags_.txn_writers;
  o.txn.pending_max = static_cast<size_t>(flags_.txn_pending_max);
  ingest_ = std::make_unique<link::LinkIngest>(*store_, counters_, env_, o);
  if (absl::Status s = ingest_->Start(); !s.ok()) return Prefixed("--mqtt-url", s);

  link::ConfigPublisherOptions co;
  co.refresh_interval = absl::Seconds(std::max(1, flags_.config_refresh_seconds));
  link::BrokerLink* broker = &ingest_->broker();
  config_publisher_ = std::make_unique<link::ConfigPublisher>(
      *store_,
      [broker](const std::vector<std::pair<std::string, std::string>>& messages,
               absl::Duration timeout) { return broker->PublishRetained(messages, timeout); },
      box_ ? &*box_ : nullptr, counters_, env_, co);
  config_publisher_->Start();
  disconnects_ =
      std::make_unique<link::DisconnectPublisher>(*store_, ingest_->broker(), counters_, env_);
  disconnects_->Start();
  jobs::OfflineDetectorOptions oo;
  oo.timeout = absl::Seconds(flags_.offline_timeout_seconds);
  offline_ = std::make_unique<jobs::OfflineDetector>(*store_, counters_, env_, oo);
  offline_->Start();
  return absl::OkStatus();
}

absl::Status Server::StartApi(std::string code_key) {
  core::EnrollmentSettings enrollment;
  enrollment.ca = *ca_;
  enrollment.broker_address = flags_.broker_address;
  enrollment.certificate_validity = absl::Hours(24 * flags_.cert_validity_days);
  enrollment.throttle.concurrent_per_source = flags_.enroll_parallel_per_source;
  enrollment.code_key = std::move(code_key);
  api::ConfigSettings config;
  config.box = box_ ? &*box_ : nullptr;
  config.on_change = [p = config_publisher_.get()] {
    if (p != nullptr) p->Wake();
  };
  core::CallLimitOptions limits;
  limits.token_rate = flags_.limit_token_rate;
  limits.token_burst = 2 * flags_.limit_token_rate;
  limits.tenant_rate = flags_.limit_tenant_rate;
  limits.tenant_burst = 2 * flags_.limit_tenant_rate;
  limits.streams_per_token = flags_.limit_streams_per_token;
  limits.streams_per_tenant = flags_.limit_streams_per_tenant;
  limits.calls_per_tenant = flags_.limit_calls_per_tenant >= 0
                                ? flags_.limit_calls_per_tenant
                                : std::max(1, flags_.db_pool_size / 2);
  api_ = std::make_unique<api::ApiServer>(env_, *store_, counters_, *feed_, enrollment, config,
                                          limits);
  api::ApiServerOptions options;
  options.listen = flags_.listen;
  options.device_listen = flags_.device_listen;
  options.tls_cert_file = flags_.tls_cert;
  options.tls_key_file = flags_.tls_key;
  options.api_memory_bytes = int64_t{flags_.api_memory_mib} << 20;
  options.device_memory_bytes = int64_t{flags_.device_memory_mib} << 20;
  if (absl::Status s = api_->Start(options); !s.ok()) {
    return Prefixed("--listen/--device-listen/--tls-*", s);
  }
  spdlog::info("gRPC API listening on port {} ({}); terminals enroll on port {}", api_->port(),
               flags_.tls_cert.empty() ? "plaintext" : "TLS", api_->device_port());
  return absl::OkStatus();
}

absl::Status Server::StartMetrics() {
  if (flags_.metrics_listen.empty()) return absl::OkStatus();
  const size_t colon = flags_.metrics_listen.rfind(':');
  const std::string host = flags_.metrics_listen.substr(0, colon);
  const int port =
      colon == std::string::npos ? -1 : std::atoi(flags_.metrics_listen.c_str() + colon + 1);
  metrics_ = std::make_unique<httplib::Server>();
  if (port <= 0 || !metrics_->bind_to_port(host, port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: cannot listen on ", flags_.metrics_listen));
  }
  metrics_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(counters_.Render(), "text/plain; version=0.0.4");
  });
  metrics_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const absl::Status s = pool_->Ping();
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ok\n" : s.ToString() + "\n", "text/plain");
  });
  metrics_thread_ = std::thread([this] { metrics_->listen_after_bind(); });
  spdlog::info("metrics on http://{}/metrics", flags_.metrics_listen);
  return absl::OkStatus();
}

void Server::StartHealth() {
  health_ = std::thread([this] {
    bool serving = true;
    while (!env_.WaitForNotification(stop_health_, absl::Seconds(5))) {
      const bool ok = pool_->Ping().ok();
      if (ok != serving) {
        spdlog::warn("database {}", ok ? "reachable again" : "unreachable: reporting NOT_SERVING");
        api_->SetServing(ok);
        serving = ok;
      }
    }
  });
}

int Serve(const Flags& flags) {
  // Before anything else, so that a missing key stops the server at once.
  absl::StatusOr<std::string> code_key = ReadKeyFile(flags.code_key_file);
  if (flags.code_key_file.empty() || !code_key.ok()) {
    spdlog::error(
        "--code-key-file: {} (activation codes are stored under this key, the same on every "
        "replica; make one with `openssl rand -hex 32`, keep it like the parameter key)",
        flags.code_key_file.empty() ? std::string("is required") : code_key.status().message());
    return 2;
  }
  Server server(flags);
  if (absl::Status s = server.Start(*std::move(code_key)); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  const int sig = WaitForTerminationSignal();
  spdlog::info("signal {}: shutting down", sig);
  server.Stop();
  return 0;
}

}  // namespace posfleet::server

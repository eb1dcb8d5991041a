#pragma once

#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/secret_box.h"
#include "server/api/api_server.h"
#include "server/jobs/maintenance.h"
#include "server/jobs/offline_detector.h"
#include "server/link/config_publisher.h"
#include "server/link/crl_publisher.h"
#include "server/link/disconnect_publisher.h"
#include "server/link/link_ingest.h"
#include "server/main/flags.h"
#include "server/store/pg_change_feed.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"

namespace posfleet::server {

// posfleet-server serving: the database, the jobs, the terminal link, the gRPC API, metrics and
// health. Start builds and starts them in that order; Stop (and the destructor) stops them in
// the reverse one, so nothing is stopped while a part started after it still uses it: the API
// stops taking calls first, the database pool goes last.
class Server {
 public:
  explicit Server(const Flags& flags);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // An error names the flag to look at; what started before it is stopped by Stop.
  absl::Status Start(std::string code_key);
  void Stop();

 private:
  absl::Status StartStore();
  absl::Status StartJobs();
  absl::Status OpenParamsBox();
  absl::Status StartLink();
  absl::Status StartApi(std::string code_key);
  absl::Status StartMetrics();
  void StartHealth();  // NOT_SERVING while the database is unreachable

  const Flags& flags_;
  Env& env_;
  Counters counters_;
  bool started_ = false;
  // In start order.
  std::unique_ptr<store::PgPool> pool_;
  std::unique_ptr<store::PgStore> store_;
  std::optional<pki::CertAndKey> ca_;
  std::unique_ptr<link::CrlPublisher> crl_;
  std::unique_ptr<jobs::Maintenance> maintenance_;
  std::unique_ptr<store::PgChangeFeed> feed_;
  std::optional<SecretBox> box_;
  std::unique_ptr<link::LinkIngest> ingest_;
  std::unique_ptr<link::ConfigPublisher> config_publisher_;
  std::unique_ptr<link::DisconnectPublisher> disconnects_;
  std::unique_ptr<jobs::OfflineDetector> offline_;
  std::unique_ptr<api::ApiServer> api_;
  std::unique_ptr<httplib::Server> metrics_;
  std::thread metrics_thread_;
  absl::Notification stop_health_;
  std::thread health_;
};

// `posfleet-server [serve]`: runs until SIGINT or SIGTERM; the exit code.
int Serve(const Flags& flags);

}  // namespace posfleet::server

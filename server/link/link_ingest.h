#pragma once

#include <mqtt/async_client.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "server/core/link_reports.h"
#include "server/core/store.h"

namespace posfleet::link {

struct LinkIngestOptions {
  std::string broker_url;  // "ssl://host:8883"
  std::string ca_file;     // the fleet CA (trust anchor for the broker)
  std::string cert_file;   // this server's client certificate, CN posfleet-server
  std::string key_file;
  std::string client_id;  // unique per replica
  absl::Duration flush_interval = absl::Milliseconds(200);
  size_t max_pending = 200000;  // reports held while the database is slow; older ones go first
  // Terminals that have said nothing for this long are marked offline (3 missed heartbeats at
  // the default 30 s interval).
  absl::Duration offline_timeout = absl::Seconds(90);
  absl::Duration sweep_interval = absl::Seconds(10);
  // A terminal's heartbeat goes to the health history when its last record is this old (zero:
  // every heartbeat; core::kNoHistory: never).
  absl::Duration history_every = absl::Minutes(5);
};

// Reads every uplink through the shared subscription $share/posfleet/posfleet/v1/t/+/up/+ (so
// several server replicas split the traffic), decodes and validates each message, and writes
// presence and health to the store in batches: thousands of heartbeats a second are a few
// transactions, not thousands. Malformed messages are counted
// (posfleet_link_messages_total{kind,result}) and logged at debug level, never fatal.
class LinkIngest : private mqtt::callback {
 public:
  LinkIngest(core::Store& store, Counters& counters, LinkIngestOptions options);
  ~LinkIngest() override;

  // Connects (and keeps reconnecting) and starts the writer and the sweep. Unavailable if the
  // first connection fails.
  absl::Status Start();
  void Stop();

  // Decodes one message and queues what it reports (the callback's work; public for tests).
  void Accept(const std::string& topic, const std::string& payload);
  // Writes everything queued now; returns the store's status.
  absl::Status Flush();

 private:
  void connected(const std::string& cause) override;
  void connection_lost(const std::string& cause) override;
  void message_arrived(mqtt::const_message_ptr msg) override;

  core::Store& store_;
  Counters& counters_;
  const LinkIngestOptions options_;
  std::unique_ptr<mqtt::async_client> client_;
  absl::Mutex mu_;
  std::vector<core::StatusReport> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<core::HealthReport> heartbeats_ ABSL_GUARDED_BY(mu_);
  absl::Mutex flush_mu_;  // one flush at a time, in arrival order
  absl::Notification stop_;
  std::thread writer_;
  std::thread sweeper_;
};

}  // namespace posfleet::link

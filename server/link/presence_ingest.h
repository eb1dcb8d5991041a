#pragma once

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "server/core/link_reports.h"
#include "server/core/repositories/configuration.h"
#include "server/core/repositories/presence.h"

namespace posfleet::link {

struct PresenceIngestOptions {
  absl::Duration flush_interval = absl::Milliseconds(200);
  size_t max_pending = 200000;  // heartbeats held while the database is slow; older ones go first
  // A terminal's heartbeat goes to the health history when its last record is this old (zero:
  // every heartbeat; core::kNoHistory: never).
  absl::Duration history_every = absl::Minutes(5);
};

// Presence, health and parameter reports from the terminals, written in batches every flush
// interval (one transaction for a whole fleet's heartbeats, not one per message). While the
// database is away, what is queued waits for the next flush: statuses and config reports are
// kept, and of the heartbeats the oldest go first beyond max_pending (a newer one from the same
// terminal supersedes them anyway; posfleet_link_heartbeats_dropped_total).
class PresenceIngest {
 public:
  PresenceIngest(core::PresenceRepository& presence, core::ConfigRepository& config,
                 Counters& counters, Env& env, PresenceIngestOptions options);
  ~PresenceIngest();

  void Start();  // the flush loop
  void Stop();   // ends the loop, then writes what is queued once

  void Queue(std::optional<core::StatusReport> status, std::optional<core::HealthReport> heartbeat,
             std::optional<core::ConfigReportIn> config_report);
  // Writes the presence, health and config reports queued now; returns the store's status.
  absl::Status Flush();

 private:
  // Writes `reports`; if the database is away they go back in the queue and its status is
  // returned. Any other failure drops them (counted), so presence is not held up behind them.
  absl::Status FlushConfigReports(std::vector<core::ConfigReportIn> reports);
  void FlushLogged();  // the loop's work

  core::PresenceRepository& presence_;
  core::ConfigRepository& config_;
  Counters& counters_;
  Env& env_;
  const PresenceIngestOptions options_;
  absl::Mutex mu_;
  std::vector<core::StatusReport> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<core::HealthReport> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<core::ConfigReportIn> config_reports_ ABSL_GUARDED_BY(mu_);
  absl::Mutex flush_mu_;  // one flush at a time, in arrival order
  // Last: stopped (by the destructor's Stop) before the members it uses go.
  Periodic loop_{env_, options_.flush_interval, Periodic::First::kAfterInterval,
                 [this] { FlushLogged(); }};
};

}  // namespace posfleet::link

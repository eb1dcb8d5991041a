#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "server/core/repositories/partitions.h"

namespace posfleet::jobs {

struct MaintenanceOptions {
  absl::Duration interval = absl::Hours(1);
  // Health history: daily partitions exist this many days ahead, and are dropped once their day
  // is older than the retention.
  int days_ahead = 7;
  absl::Duration history_retention = absl::Hours(24 * 30);
  // Transactions: monthly partitions this many months ahead; the newest `txn_retention_months`
  // months (the current one counts) are kept and queryable, older ones are dropped.
  int months_ahead = 2;
  int txn_retention_months = 13;
  bool health_history = true;  // false: the health history is not kept at all
};

// Keeps the time-partitioned tables in shape on every replica's schedule; the store lets one
// replica at a time do the work (an advisory lock), so running it everywhere is safe and a
// replica that dies leaves the job to the others. The clock decides which days are due, so tests
// move it instead of waiting for midnight.
class Maintenance {
 public:
  Maintenance(core::PartitionUpkeep& store, Counters& counters, Env& env,
              MaintenanceOptions options)
      : store_(store), counters_(counters), env_(env), options_(options) {}
  ~Maintenance() { Stop(); }

  // One pass now; logs and counts what changed (posfleet_maintenance_runs_total{result}).
  absl::Status RunOnce();
  // Runs a pass every `interval` on a thread of its own until Stop.
  void Start();
  void Stop();

 private:
  // One run, its failure logged (the loop's work).
  void RunLogged();

  core::PartitionUpkeep& store_;
  Counters& counters_;
  Env& env_;
  const MaintenanceOptions options_;
  // Last: stopped (by the destructor's Stop) before the members it uses go.
  Periodic loop_{env_, options_.interval, Periodic::First::kAfterInterval, [this] { RunLogged(); }};
};

}  // namespace posfleet::jobs

#include "server/jobs/maintenance.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace posfleet::jobs {

namespace {

absl::Status Report(Counters& counters, absl::string_view table,
                    const absl::StatusOr<core::PartitionChanges>& changes) {
  const std::string label = absl::StrCat("table=\"", table, "\",result=");
  if (!changes.ok()) {
    counters.Add("posfleet_maintenance_runs_total", absl::StrCat(label, "\"error\""));
    return changes.status();
  }
  counters.Add("posfleet_maintenance_runs_total",
               absl::StrCat(label, changes->skipped ? "\"skipped\"" : "\"ok\""));
  if (!changes->created.empty()) {
    spdlog::info("maintenance: created {} partitions {}", table,
                 absl::StrJoin(changes->created, ", "));
  }
  if (!changes->dropped.empty()) {
    spdlog::info("maintenance: dropped {} partitions past the retention: {}", table,
                 absl::StrJoin(changes->dropped, ", "));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Maintenance::RunOnce() {
  const absl::Time now = env_.Now();
  absl::Status history = absl::OkStatus();
  if (options_.health_history) {
    history =
        Report(counters_, "health_history",
               store_.MaintainHealthHistory(now, options_.days_ahead, options_.history_retention));
  }
  absl::Status txns = Report(
      counters_, "transactions",
      store_.MaintainTransactions(now, options_.months_ahead, options_.txn_retention_months));
  return txns.ok() ? history : txns;
}

void Maintenance::RunLogged() {
  if (absl::Status s = RunOnce(); !s.ok()) {
    spdlog::warn("maintenance: {} (next try in {})", s.ToString(),
                 absl::FormatDuration(options_.interval));
  }
}

void Maintenance::Start() { loop_.Start(); }

void Maintenance::Stop() { loop_.Stop(); }

}  // namespace posfleet::jobs

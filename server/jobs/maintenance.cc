#include "server/jobs/maintenance.h"

#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace posfleet::jobs {

absl::Status Maintenance::RunOnce() {
  absl::StatusOr<core::PartitionChanges> changes =
      store_.MaintainHealthHistory(clock_.Now(), options_.days_ahead, options_.history_retention);
  if (!changes.ok()) {
    counters_.Add("posfleet_maintenance_runs_total", "result=\"error\"");
    return changes.status();
  }
  counters_.Add("posfleet_maintenance_runs_total",
                changes->skipped ? "result=\"skipped\"" : "result=\"ok\"");
  if (!changes->created.empty()) {
    spdlog::info("maintenance: created health history partitions {}",
                 absl::StrJoin(changes->created, ", "));
  }
  if (!changes->dropped.empty()) {
    spdlog::info("maintenance: dropped health history partitions past the retention: {}",
                 absl::StrJoin(changes->dropped, ", "));
  }
  return absl::OkStatus();
}

void Maintenance::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
      if (absl::Status s = RunOnce(); !s.ok()) {
        spdlog::warn("maintenance: {} (next try in {})", s.ToString(),
                     absl::FormatDuration(options_.interval));
      }
    }
  });
}

void Maintenance::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace posfleet::jobs

#pragma once

// Upkeep of the time-partitioned tables (server/jobs/maintenance runs it).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/repositories/repository.h"

namespace posfleet::core {

// What a partition maintenance run did; partition names, oldest first.
struct PartitionChanges {
  bool skipped = false;  // another replica holds the maintenance lock
  std::vector<std::string> created;
  std::vector<std::string> dropped;
};

class PartitionUpkeep {
 public:
  virtual ~PartitionUpkeep() = default;

  // Keeps the health history's daily partitions: creates those for the UTC days from `now`'s to
  // `days_ahead` later, and drops those whose day ended more than `retention` before `now`.
  // Partitions not named by posfleet are left alone. Only one replica works at a time; the
  // others return at once with nothing done (`skipped`).
  virtual absl::StatusOr<PartitionChanges> MaintainHealthHistory(absl::Time now, int days_ahead,
                                                                 absl::Duration retention) = 0;

  // Keeps the transactions' monthly partitions: creates those of the kept months up to
  // `months_ahead` after `now`'s, and drops those of months before the `retention_months` newest
  // (the current month counts). Records that fell into the default partition (a month without
  // its own) are deleted once older than that. Only one replica works at a time (`skipped`).
  virtual absl::StatusOr<PartitionChanges> MaintainTransactions(absl::Time now, int months_ahead,
                                                                int retention_months) = 0;
};

}  // namespace posfleet::core

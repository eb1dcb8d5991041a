#pragma once

// The audit log: append-only (the database enforces it).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

struct AuditFilter {
  Scope scope;
  std::string actor_id;   // empty: any
  std::string target_id;  // empty: any
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Audit log: append-only. Newest first.
  virtual absl::Status AppendAudit(const AuditEntry& entry) = 0;
  virtual absl::StatusOr<Slice<AuditEntry>> ListAudit(const AuditFilter& filter,
                                                      const Window& window) = 0;
};

}  // namespace posfleet::core

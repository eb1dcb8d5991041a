#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/repositories/audit_log.h"

namespace posfleet::core {

struct AuditQuery {
  std::string tenant_id;  // global actors only
  std::string actor_id;
  std::string target_id;
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
  int page_size = 0;
  std::string page_token;
};

// Reads the audit log within the caller's tenant scope.
class AuditReader {
 public:
  explicit AuditReader(AuditLog& store) : store_(store) {}
  absl::StatusOr<Page<AuditEntry>> List(const Actor& actor, const AuditQuery& query);

 private:
  AuditLog& store_;
};

}  // namespace posfleet::core

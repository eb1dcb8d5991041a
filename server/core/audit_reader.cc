#include "server/core/audit_reader.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"

namespace posfleet::core {

absl::StatusOr<Page<AuditEntry>> AuditReader::List(const Actor& actor, const AuditQuery& query) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListAuditEntries));
  AuditFilter filter;
  ASSIGN_OR_RETURN(filter.scope, ResolveScope(actor, query.tenant_id));
  if (query.actor_id.size() > 64 || query.target_id.size() > 64) {
    return absl::InvalidArgumentError("actor_id/target_id: at most 64 characters");
  }
  filter.actor_id = query.actor_id;
  filter.target_id = query.target_id;
  filter.start_time = query.start_time;
  filter.end_time = query.end_time;
  if (filter.start_time && filter.end_time && *filter.end_time <= *filter.start_time) {
    return absl::InvalidArgumentError("end_time: must be after start_time");
  }
  auto time_key = [](const std::optional<absl::Time>& t) {
    return t ? absl::StrCat(absl::ToUnixMicros(*t)) : std::string();
  };
  const std::string key =
      absl::StrCat("audit|", filter.scope.tenant_id, "|", filter.actor_id, "|", filter.target_id,
                   "|", time_key(filter.start_time), "|", time_key(filter.end_time));
  return FetchPage<AuditEntry>(key, query.page_size, query.page_token,
                               [&](const Window& w) { return store_.ListAudit(filter, w); });
}

}  // namespace posfleet::core

#include "server/core/audited.h"

#include "common/logging.h"
#include "common/pan.h"
#include "server/core/validation.h"

namespace posfleet::core {

namespace {
thread_local AuditedCall* current_call = nullptr;
}  // namespace

AuditedCall::AuditedCall() : outer_(current_call) { current_call = this; }
AuditedCall::~AuditedCall() { current_call = outer_; }
void AuditedCall::MarkHandled() {
  if (current_call != nullptr) current_call->handled_ = true;
}

AuditEntry BeginAudit(const Actor& actor, Method method, absl::string_view target_type,
                      absl::string_view target_id) {
  AuditEntry e;
  e.actor_id = actor.token_id;
  e.actor_name = actor.name;
  e.role = actor.role;
  e.tenant_id = actor.tenant_id;
  e.method = std::string(MethodName(method));
  e.target_type = std::string(target_type);
  e.target_id = Redact(target_id);
  return e;
}

void RecordFailure(AuditLog& store, AuditEntry entry, const absl::Status& status) {
  AuditedCall::MarkHandled();
  entry.result = absl::StatusCodeToString(status.code());
  entry.summary = Redact(status.message(), 500);
  if (absl::Status s = store.AppendAudit(entry); !s.ok()) {
    spdlog::warn("audit: could not record failed {} by {}: {}", entry.method, entry.actor_id,
                 s.ToString());
  }
}

absl::StatusOr<Scope> ResolveScope(const Actor& actor, absl::string_view requested_tenant) {
  if (!requested_tenant.empty()) {
    if (absl::Status s = ValidateId("tenant_id", requested_tenant, "ten"); !s.ok()) return s;
  }
  if (actor.global()) return Scope{std::string(requested_tenant)};
  if (!requested_tenant.empty() && requested_tenant != actor.tenant_id) {
    return absl::NotFoundError("tenant not found");
  }
  return Scope{actor.tenant_id};
}

}  // namespace posfleet::core

#pragma once

#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/permissions.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/types.h"

namespace posfleet::core {

// The audit entry for a call by `actor`, before its outcome is known. The tenant defaults to the
// actor's; the store replaces it with the target's tenant when the change commits.
AuditEntry BeginAudit(const Actor& actor, Method method, absl::string_view target_type,
                      absl::string_view target_id);

// The API call this thread is serving, as far as its audit row goes. The gRPC adapter opens one
// per call (server/api/handler.h); Audited, RecordFailure and a dry run mark it handled (the row
// commits with the change, or the refusal is recorded, or a preview writes none); a mutating call
// that ends refused with the mark unset was refused before the core saw it (an unknown enum, a
// field the text rule refused), and the adapter records that refusal itself. One row per call,
// whoever refuses it.
class AuditedCall {
 public:
  AuditedCall();
  ~AuditedCall();
  AuditedCall(const AuditedCall&) = delete;
  AuditedCall& operator=(const AuditedCall&) = delete;

  bool handled() const { return handled_; }
  // Marks the call being served on this thread, if any.
  static void MarkHandled();

 private:
  AuditedCall* outer_;
  bool handled_ = false;
};

// Records a failed mutating call (result = the status code name) in its own transaction. A
// failure to record is logged, never returned: the caller's error is the one that matters.
void RecordFailure(AuditLog& store, AuditEntry entry, const absl::Status& status);

// Runs `fn` (which commits its own audit entry on success) and records its failure, if any.
template <typename Fn>
auto Audited(AuditLog& store, const AuditEntry& entry, Fn&& fn) -> decltype(fn()) {
  auto result = fn();
  AuditedCall::MarkHandled();
  if (!result.ok()) {
    if constexpr (std::is_same_v<decltype(result), absl::Status>) {
      RecordFailure(store, entry, result);
    } else {
      RecordFailure(store, entry, result.status());
    }
  }
  return result;
}

// The scope a call runs in. A scoped actor always gets its own tenant: asking for another tenant
// is NotFound (existence must not leak). A global actor gets `requested_tenant`, or every tenant
// when it is empty.
absl::StatusOr<Scope> ResolveScope(const Actor& actor, absl::string_view requested_tenant);

}  // namespace posfleet::core

#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/lifecycle.h"
#include "server/core/permissions.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/enrollment.h"
#include "server/core/repositories/presence.h"
#include "server/core/repositories/terminals.h"
#include "server/core/repositories/unit_of_work.h"
#include "server/core/types.h"

namespace posfleet::core {

struct TerminalQuery {
  std::string tenant_id;  // global actors only
  std::string merchant_id;
  std::optional<TerminalState> state;
  std::string label_selector;
  std::optional<bool> online;
  int64_t offline_for_seconds = 0;
  int battery_below = 0;
  std::string paper;
  std::string software;  // "component=version" or "component!=version"
  int page_size = 0;
  std::string page_token;
};

struct HistoryQuery {
  std::optional<absl::Time> start_time;  // inclusive
  std::optional<absl::Time> end_time;    // exclusive
  int page_size = 0;
  std::string page_token;
};

struct TerminalUpdate {
  Labels set_labels;
  std::vector<std::string> remove_labels;
  std::optional<std::string> merchant_id;
  std::optional<std::string> tid;
};

struct BatchOutcome {
  std::vector<BatchItemResult> results;  // one per input, in order
  int created = 0;
  int skipped = 0;
  int failed = 0;
  bool rolled_back = false;  // all_or_nothing and something failed: nothing was created
};

// The terminal registry: who may do what to which terminal, validation, and the audit summary of
// every change. Storage is behind core::Store.
class TerminalRegistry {
 public:
  TerminalRegistry(TerminalRepository& store, PresenceRepository& presence,
                   EnrollmentRepository& certificates, UnitOfWork& unit, AuditLog& audit)
      : store_(store),
        presence_(presence),
        certificates_(certificates),
        unit_(unit),
        audit_(audit) {}

  absl::StatusOr<Terminal> Create(const Actor& actor, const TerminalSpec& spec);
  // Bulk import, idempotent by vendor+serial within a tenant.
  absl::StatusOr<BatchOutcome> CreateBatch(const Actor& actor,
                                           const std::vector<TerminalSpec>& specs,
                                           bool all_or_nothing);
  absl::StatusOr<Terminal> Get(const Actor& actor, absl::string_view id);
  // The terminal's sampled health, newest first.
  absl::StatusOr<Page<HealthSample>> History(const Actor& actor, absl::string_view id,
                                             const HistoryQuery& query);
  absl::StatusOr<Page<Terminal>> List(const Actor& actor, const TerminalQuery& query);
  // Counts by state, presence, model and software over the terminals the query matches (paging
  // fields are ignored).
  absl::StatusOr<FleetSummary> Summarize(const Actor& actor, const TerminalQuery& query);
  // Checks the query and resolves the caller's scope into a store filter; `method` is what the
  // caller is authorized for.
  absl::StatusOr<TerminalFilter> FilterFor(const Actor& actor, Method method,
                                           const TerminalQuery& query);
  absl::StatusOr<Terminal> Update(const Actor& actor, absl::string_view id,
                                  const TerminalUpdate& update);
  // Suspends, reactivates or retires; retiring revokes the terminal's certificates in the same
  // unit of work (core::RevokesCertificates).
  absl::StatusOr<Terminal> ChangeLifecycle(const Actor& actor, absl::string_view id,
                                           LifecycleAction action, absl::string_view reason);

 private:
  TerminalRepository& store_;
  PresenceRepository& presence_;
  EnrollmentRepository& certificates_;
  UnitOfWork& unit_;
  AuditLog& audit_;
};

}  // namespace posfleet::core

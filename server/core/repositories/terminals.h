#pragma once

// The terminal registry.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/label_selector.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

// "component=version" (or != with negate) over the versions of the last heartbeat.
struct SoftwareMatch {
  std::string component;
  std::string version;
  bool negate = false;
};

struct TerminalFilter {
  Scope scope;
  std::string merchant_id;  // empty: any
  std::optional<TerminalState> state;
  LabelSelector selector;
  std::optional<bool> online;
  absl::Duration offline_for = absl::ZeroDuration();  // zero: no such filter
  int battery_below = 0;                              // zero: no such filter
  std::string paper;                                  // empty: any
  std::optional<SoftwareMatch> software;
  std::optional<std::vector<std::string>> ids;  // only these terminals
};

struct BatchItemResult {
  enum class Outcome { kCreated, kSkipped, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::string terminal_id;
  std::string field;
  std::string error;
};

class TerminalRepository {
 public:
  virtual ~TerminalRepository() = default;

  // Terminals. The tenant of a new terminal is its merchant's tenant (NotFound naming merchant_id
  // if the merchant is outside the scope); AlreadyExists if vendor+serial is taken in the tenant.
  virtual absl::StatusOr<Terminal> CreateTerminal(const Scope& scope, const Terminal& terminal,
                                                  AuditEntry audit) = 0;
  // Creates the terminals whose vendor+serial are new in their tenant and skips the others, one
  // audit entry (from `audit`, target filled in) per created terminal. Returns one result per
  // input, in order. With `all_or_nothing`, any failed item rolls everything back.
  virtual absl::StatusOr<std::vector<BatchItemResult>> CreateTerminals(
      const Scope& scope, const std::vector<Terminal>& terminals, bool all_or_nothing,
      const AuditEntry& audit) = 0;
  virtual absl::StatusOr<Terminal> GetTerminal(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Terminal>> ListTerminals(const TerminalFilter& filter,
                                                        const Window& window) = 0;
  // Counts over every terminal the filter matches, in one snapshot.
  virtual absl::StatusOr<FleetSummary> SummarizeFleet(const TerminalFilter& filter) = 0;
  // GetTerminal that holds the row's lock until the unit of work it runs in ends, so what core
  // decides from it still holds when it writes (core/repositories/unit_of_work.h).
  virtual absl::StatusOr<Terminal> LockTerminal(const Scope& scope, absl::string_view id) = 0;
  // A mutation may change merchant_id (NotFound unless in the same tenant), tid, labels, state.
  virtual absl::StatusOr<Terminal> UpdateTerminal(const Scope& scope, absl::string_view id,
                                                  const Mutation<Terminal>& mutate,
                                                  AuditEntry audit) = 0;
};

}  // namespace posfleet::core

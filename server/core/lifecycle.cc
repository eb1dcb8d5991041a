#include "server/core/lifecycle.h"

#include "absl/strings/str_cat.h"

namespace posfleet::core {

absl::string_view ActionName(LifecycleAction action) {
  switch (action) {
    case LifecycleAction::kActivate:
      return "activate";
    case LifecycleAction::kSuspend:
      return "suspend";
    case LifecycleAction::kReactivate:
      return "reactivate";
    case LifecycleAction::kRetire:
      return "retire";
  }
  return "unknown";
}

absl::StatusOr<TerminalState> NextState(const Terminal& t, LifecycleAction action) {
  using S = TerminalState;
  const S from = t.state;
  auto refuse = [&]() {
    return absl::FailedPreconditionError(absl::StrCat("cannot ", ActionName(action), " terminal ",
                                                      t.id, ": it is ", StateName(from)));
  };
  if (from == S::kRetired) {
    if (action == LifecycleAction::kRetire) return S::kRetired;
    return refuse();
  }
  switch (action) {
    case LifecycleAction::kActivate:
      if (from == S::kProvisioned || from == S::kActive) return S::kActive;
      return refuse();
    case LifecycleAction::kSuspend:
      return S::kSuspended;
    case LifecycleAction::kReactivate:
      if (from == S::kSuspended) return t.enroll_time ? S::kActive : S::kProvisioned;
      if (from == S::kActive) return S::kActive;
      return refuse();
    case LifecycleAction::kRetire:
      return S::kRetired;
  }
  return refuse();
}

}  // namespace posfleet::core

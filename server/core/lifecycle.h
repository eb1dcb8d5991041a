#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/types.h"

namespace posfleet::core {

// provisioned --enroll--> active --suspend--> suspended --reactivate--> active (or provisioned if
// the terminal never enrolled); suspend also works on a provisioned terminal (hold it before
// installation). Any state but retired --retire--> retired, which is final.
enum class LifecycleAction { kActivate, kSuspend, kReactivate, kRetire };

absl::string_view ActionName(LifecycleAction action);

// The state `t` moves to under `action`. Asking for the state the terminal is already in (suspend a
// suspended terminal) is allowed and returns it unchanged, so retried calls are harmless.
// FailedPrecondition, naming both states, when the move is not allowed.
absl::StatusOr<TerminalState> NextState(const Terminal& t, LifecycleAction action);

}  // namespace posfleet::core

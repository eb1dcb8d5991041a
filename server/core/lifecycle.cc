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

bool RevokesCertificates(TerminalState before, TerminalState after) {
  return after == TerminalState::kRetired && before != TerminalState::kRetired;
}

absl::Status MayEnroll(const Terminal& t) {
  if (t.state == TerminalState::kRetired) {
    return absl::FailedPreconditionError(absl::StrCat("terminal ", t.id, " is retired"));
  }
  if (t.state == TerminalState::kSuspended) {
    return absl::FailedPreconditionError(
        absl::StrCat("terminal ", t.id, " is suspended; reactivate it first"));
  }
  return absl::OkStatus();
}

RedemptionDecision DecideRedemption(const ActivationCodeFacts& code, const Terminal& t,
                                    absl::string_view vendor, absl::string_view serial,
                                    const std::function<bool()>& issued_to_this_key) {
  const bool same_device = t.vendor == vendor && t.serial == serial;
  if (code.used) {
    if (same_device && issued_to_this_key()) return {Redemption::kReplay, absl::OkStatus()};
    return {Redemption::kRefuse,
            absl::UnauthenticatedError("activation_code: already used; ask for a new one")};
  }
  if (code.expired) {
    return {Redemption::kRefuse,
            absl::UnauthenticatedError("activation_code: expired; ask for a new one")};
  }
  if (code.failures >= kMaxActivationCodeFailures) {
    return {Redemption::kRefuse,
            absl::UnauthenticatedError(
                absl::StrCat("activation_code: locked after ", kMaxActivationCodeFailures,
                             " attempts with another vendor or serial; ask for a new one"))};
  }
  if (!same_device) {
    return {Redemption::kMismatch,
            absl::PermissionDeniedError(
                "activation_code: issued for another terminal (vendor and serial do not match)")};
  }
  if (absl::Status s = MayEnroll(t); !s.ok()) return {Redemption::kRefuse, s};
  return {Redemption::kIssue, absl::OkStatus()};
}

RenewalDecision DecideRenewal(const RenewalFacts& facts, const std::string& terminal_id,
                              absl::string_view current_serial, absl::string_view public_key_sha256,
                              const std::function<bool()>& issued_to_this_key) {
  if (facts.retired) {
    return {Renewal::kRefuse,
            absl::FailedPreconditionError(absl::StrCat("terminal ", terminal_id, " is retired"))};
  }
  if (!facts.current_revoked) {
    return {Renewal::kRefuse,
            absl::UnauthenticatedError(
                "certificate_pem: not a certificate this fleet issued to the terminal")};
  }
  if (*facts.current_revoked) {
    return {Renewal::kRefuse,
            absl::UnauthenticatedError("certificate_pem: revoked (the terminal was re-enrolled or "
                                       "retired); enroll again with an activation code")};
  }
  if (facts.newest && facts.newest->serial != current_serial) {
    const bool retry = facts.newest->renewed_from == current_serial &&
                       facts.newest->public_key_sha256 == public_key_sha256;
    if (!retry) {
      return {Renewal::kRefuse,
              absl::UnauthenticatedError("certificate_pem: superseded by a later certificate of "
                                         "this terminal; renew from the current one")};
    }
    if (issued_to_this_key()) return {Renewal::kReplay, absl::OkStatus()};
  }
  return {Renewal::kIssue, absl::OkStatus()};
}

std::string ReplaySummary(absl::string_view serial, absl::string_view call) {
  return absl::StrCat("re-sent certificate ", serial, " to a retried ", call,
                      " (the first response was lost)");
}

absl::Status UnknownRenewalTerminal() {
  return absl::UnauthenticatedError("certificate_pem: names no terminal of this fleet");
}

}  // namespace posfleet::core

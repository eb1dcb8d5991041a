#pragma once

#include <functional>
#include <optional>
#include <string>

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

// Whether a move from `before` to `after` revokes the terminal's certificates: retiring does,
// so that a retired terminal's key opens nothing (TerminalRegistry does it in the same unit of
// work as the state change).
bool RevokesCertificates(TerminalState before, TerminalState after);

// Whether `t` may be given an activation code or enroll with one: not when retired or suspended
// (FailedPrecondition saying what to do).
absl::Status MayEnroll(const Terminal& t);

// What an activation code presented at enrollment leads to, decided from what the store read
// under the terminal's lock; the store then carries it out in the same transaction.
struct ActivationCodeFacts {
  bool used = false;
  bool expired = false;
  int failures = 0;  // presentations with another vendor or serial
};
enum class Redemption {
  kIssue,     // issue a certificate, mark the code used, activate the terminal
  kReplay,    // re-send the certificate this code produced for the same key (a retried call)
  kRefuse,    // answer `refusal`; nothing changes
  kMismatch,  // answer `refusal` and count one more failure against the code
};
struct RedemptionDecision {
  Redemption action = Redemption::kRefuse;
  absl::Status refusal;  // for kRefuse and kMismatch
};
inline constexpr int kMaxActivationCodeFailures = 5;
// `issued_to_this_key`: asked only for a used code presented by the same vendor and serial,
// whether a certificate issued under it has the request's public key.
RedemptionDecision DecideRedemption(const ActivationCodeFacts& code, const Terminal& t,
                                    absl::string_view vendor, absl::string_view serial,
                                    const std::function<bool()>& issued_to_this_key);

// What a certificate renewal leads to, decided from what the store read under the terminal's
// lock (the terminal exists; the store answers UnknownRenewalTerminal() otherwise).
struct RenewalFacts {
  bool retired = false;
  // The presented certificate: whether it is revoked; nullopt if it is not this terminal's.
  std::optional<bool> current_revoked;
  // The terminal's newest live certificate, if it has one.
  struct Newest {
    std::string serial;
    std::string renewed_from;  // empty if it was not a renewal
    std::string public_key_sha256;
  };
  std::optional<Newest> newest;
};
enum class Renewal {
  kIssue,   // sign a certificate for the new key, renewed from the presented one
  kReplay,  // re-send the successor already issued for this key (a retried call)
  kRefuse,  // answer `refusal`; nothing changes
};
struct RenewalDecision {
  Renewal action = Renewal::kRefuse;
  absl::Status refusal;
};
// Only the terminal's newest live certificate renews; its predecessor only to fetch, again, the
// successor issued for the same key (the first response was lost). Anything older would fork the
// identity into several live certificates. `issued_to_this_key` is asked only in that retry case:
// whether a live certificate of this terminal with the request's key has its PEM kept.
RenewalDecision DecideRenewal(const RenewalFacts& facts, const std::string& terminal_id,
                              absl::string_view current_serial, absl::string_view public_key_sha256,
                              const std::function<bool()>& issued_to_this_key);
// The audit summary of a replay: `serial` re-sent to a retried "enrollment" or "renewal".
std::string ReplaySummary(absl::string_view serial, absl::string_view call);
// The answer to a renewal whose certificate names no terminal of the fleet.
absl::Status UnknownRenewalTerminal();

}  // namespace posfleet::core

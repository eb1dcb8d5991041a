#pragma once

#include "absl/time/time.h"

namespace posfleet::agent {

// When a certificate valid from `not_before` to `not_after` should be renewed: once two thirds
// of its validity have passed (day 60 of 90), which leaves a month of retries for a terminal
// that is offline or cannot reach the server when it first tries.
inline absl::Time RenewalTime(absl::Time not_before, absl::Time not_after) {
  return not_before + (not_after - not_before) * 2 / 3;
}

// What the agent does with its certificate at `now`.
enum class CertificateAction { kKeep, kRenew, kExpired };

inline CertificateAction CertificateActionAt(absl::Time not_before, absl::Time not_after,
                                             absl::Time now) {
  if (now >= not_after) return CertificateAction::kExpired;
  if (now >= RenewalTime(not_before, not_after)) return CertificateAction::kRenew;
  return CertificateAction::kKeep;
}

}  // namespace posfleet::agent

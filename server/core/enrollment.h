#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/pki.h"
#include "server/core/audited.h"
#include "server/core/enrollment_throttle.h"
#include "server/core/failure_tally.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/enrollment.h"

namespace posfleet::core {

struct EnrollmentSettings {
  pki::CertAndKey ca;
  std::string broker_address;  // handed to enrolled agents, e.g. "ssl://127.0.0.1:8883"
  absl::Duration certificate_validity = absl::Hours(24 * 90);
  EnrollmentThrottleOptions throttle;
  FailureTally::Options failure_audit;
  // The server secret activation codes are stored under (HMAC-SHA256, 32 bytes; the same on every
  // replica): a copy of the database alone does not let anyone test 49.5-bit guesses offline.
  // Codes are neither issued nor redeemed without one.
  std::string code_key;
};

struct IssuedCode {
  std::string terminal_id;
  std::string code;  // "ABCDE-FGHJK"; shown once
  absl::Time expire_time;
};

struct EnrollRequest {
  std::string vendor;
  std::string serial;
  std::string activation_code;
  std::string csr_pem;
  std::string source;  // the caller's network address, for the throttle
};

// What every enrollment that fails before vendor, serial and code all match answers, whatever
// was wrong (unknown, used, expired or locked code, or a code of another terminal): a caller
// learns nothing about codes or serials from the answer. The audit log keeps the real reason.
inline constexpr char kEnrollmentRefused[] =
    "enrollment refused: vendor, serial and activation code do not match a valid code (check "
    "them, or ask a technician for a new code)";

struct RenewRequest {
  std::string certificate_pem;
  std::string csr_pem;
  std::string proof;   // signature of csr_pem with the current certificate's key
  std::string source;  // the caller's network address, for the audit tally
};

struct Enrolled {
  std::string terminal_id;
  std::string certificate_pem;
  std::string ca_pem;
  std::string broker_address;
  absl::Time not_after;
};

// Activation codes and enrollment: how a terminal gets its identity. A technician issues a short
// code for a provisioned terminal; the agent sends it with its serial and a CSR for a key it made
// itself; the server checks everything and returns a certificate whose CN is the terminal id.
class Enrollment {
 public:
  Enrollment(EnrollmentRepository& store, AuditLog& audit, EnrollmentSettings settings, Env& env)
      : store_(store),
        audit_(audit),
        settings_(std::move(settings)),
        env_(env),
        throttle_(settings_.throttle, env_),
        tally_(audit, settings_.failure_audit, env_) {}

  // `ttl_seconds` 0 means 24 h; otherwise 300 to 604800.
  absl::StatusOr<IssuedCode> IssueCode(const Actor& actor, absl::string_view terminal_id,
                                       int ttl_seconds);
  absl::StatusOr<Enrolled> Enroll(const EnrollRequest& request);
  // A new certificate for a new key, for a terminal proving it holds its current certificate
  // (see EnrollmentService.RenewCertificate for the errors).
  absl::StatusOr<Enrolled> Renew(const RenewRequest& request);
  // Writes the audit rows of refusals counted in windows that have ended (call periodically).
  // With `everything`, also the current window's (at shutdown, and for tests).
  void FlushAudit(bool everything = false) { tally_.Flush(everything); }

 private:
  // How a normalized code is stored: its HMAC under settings_.code_key.
  absl::StatusOr<std::string> CodeHash(absl::string_view normalized) const;

  EnrollmentRepository& store_;
  AuditLog& audit_;
  const EnrollmentSettings settings_;
  Env& env_;
  EnrollmentThrottle throttle_;
  FailureTally tally_;

  // Audited() for the anonymous methods: a refusal that names a terminal gets its row (under the
  // terminal's tenant); one that names none is counted in tally_.
  template <typename Fn>
  auto AuditedAnonymous(const AuditEntry& entry, const std::string& source, Fn&& fn)
      -> decltype(fn()) {
    auto result = fn();
    AuditedCall::MarkHandled();
    if (!result.ok()) {
      if (entry.target_id.empty()) {
        tally_.Add(entry.method, source, result.status());
      } else {
        RecordFailure(audit_, entry, result.status());
      }
    }
    return result;
  }
};

// A new code: 10 characters of an alphabet without look-alikes (no 0/O, 1/I/L), 50 bits,
// shown as "ABCDE-FGHJK".
std::string NewActivationCode();

// The canonical form of a typed code (upper case, without spaces and dashes), or "" if it cannot
// be a code.
std::string NormalizeActivationCode(absl::string_view typed);

}  // namespace posfleet::core

#include "server/core/enrollment.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/pan.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

constexpr char kAlphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";  // 31 symbols, no look-alikes
constexpr size_t kCodeLength = 10;

bool IsCodeChar(char c) { return std::string_view(kAlphabet).find(c) != std::string_view::npos; }

absl::Status CheckIdentity(const EnrollRequest& r) {
  // Vendor and serial follow the registry's rules; reuse them through a spec check.
  TerminalSpec spec{"mer_aaaaaaaaaaaaaaaaaaaa", r.vendor, "enroll", r.serial, "", {}};
  if (auto error = CheckTerminalSpec(spec)) return ToStatus(*error);
  return absl::OkStatus();
}

// A client certificate for `t` from `csr_pem`, whose CN must be the terminal's serial; the
// certificate's CN is the terminal id, whatever the CSR asked for.
absl::StatusOr<pki::Issued> SignTerminalCsr(const EnrollmentSettings& settings, const Terminal& t,
                                            const std::string& csr_pem,
                                            absl::Time not_before = absl::InfinitePast()) {
  ASSIGN_OR_RETURN(std::string cn, pki::CsrCommonName(csr_pem));
  if (cn != t.serial) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr_pem: subject CN must be the terminal's serial ", t.serial, ", not \"",
                     Redact(cn, 64), "\""));
  }
  return pki::SignCsr(settings.ca, csr_pem, t.id, settings.certificate_validity,
                      pki::Usage::kClient, {}, not_before);
}

}  // namespace

std::string NewActivationCode() {
  std::string code;
  while (code.size() < kCodeLength) {
    unsigned char b = 0;
    if (RAND_bytes(&b, 1) != 1) std::abort();        // no safe code without a working CSPRNG
    if (b < 248) code.push_back(kAlphabet[b % 31]);  // 248 = 8 * 31: no modulo bias
  }
  return code.substr(0, 5) + "-" + code.substr(5);
}

std::string NormalizeActivationCode(absl::string_view typed) {
  std::string code;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    c = absl::ascii_toupper(static_cast<unsigned char>(c));
    if (!IsCodeChar(c) || code.size() == kCodeLength) return "";
    code.push_back(c);
  }
  return code.size() == kCodeLength ? code : "";
}

absl::StatusOr<std::string> Enrollment::CodeHash(absl::string_view normalized) const {
  if (settings_.code_key.size() < 32) {
    return absl::FailedPreconditionError(
        "activation codes: the server has no code key (--code-key-file)");
  }
  return HmacSha256Hex(settings_.code_key, normalized);
}

absl::StatusOr<IssuedCode> Enrollment::IssueCode(const Actor& actor, absl::string_view terminal_id,
                                                 int ttl_seconds) {
  AuditEntry audit = BeginAudit(actor, Method::kIssueActivationCode, "terminal", terminal_id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<IssuedCode> {
    RETURN_IF_ERROR(Authorize(actor, Method::kIssueActivationCode));
    RETURN_IF_ERROR(ValidateId("id", terminal_id, "trm"));
    if (ttl_seconds == 0) ttl_seconds = 86400;
    if (ttl_seconds < 300 || ttl_seconds > 604800) {
      return absl::InvalidArgumentError(
          "ttl_seconds: must be between 300 (5 min) and 604800 (7 d)");
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    IssuedCode issued{std::string(terminal_id), NewActivationCode(), {}};
    ASSIGN_OR_RETURN(std::string code_hash, CodeHash(NormalizeActivationCode(issued.code)));
    AuditEntry committed = audit;
    // The code itself never reaches the audit log.
    committed.summary = absl::StrCat("issued an activation code valid for ", ttl_seconds / 60,
                                     " minutes (replaces any earlier code)");
    ASSIGN_OR_RETURN(issued.expire_time,
                     store_.StoreActivationCode(scope, terminal_id, code_hash,
                                                absl::Seconds(ttl_seconds), committed));
    return issued;
  });
}

absl::StatusOr<Enrolled> Enrollment::Enroll(const EnrollRequest& r) {
  const Actor agent{"agent",
                    absl::StrCat("agent ", Redact(r.vendor, 64), "/", Redact(r.serial, 64)),
                    Role::kTerminal, ""};
  AuditEntry audit = BeginAudit(agent, Method::kEnroll, "terminal", "");
  bool began = false;
  const std::string serial_key = absl::StrCat(r.vendor, "\n", r.serial);
  absl::StatusOr<Enrolled> result =
      AuditedAnonymous(audit, r.source, [&]() -> absl::StatusOr<Enrolled> {
        RETURN_IF_ERROR(CheckIdentity(r));
        // Before the code is looked at, so that a refusal here says nothing about it.
        RETURN_IF_ERROR(throttle_.Begin(r.source, serial_key));
        began = true;
        const std::string code = NormalizeActivationCode(r.activation_code);
        if (code.empty()) {
          return absl::UnauthenticatedError(
              "activation_code: not a code (10 characters such as ABCDE-FGHJK)");
        }
        if (r.csr_pem.empty()) return absl::InvalidArgumentError("csr_pem: is required");
        Enrolled out;
        pki::Issued issued;
        EnrollmentRepository::CertificateIssuer record =
            [&](const Terminal& t) -> absl::StatusOr<pki::Issued> {
          ASSIGN_OR_RETURN(issued, SignTerminalCsr(settings_, t, r.csr_pem));
          audit.summary = absl::StrCat(
              "enrolled ", t.vendor, "/", t.serial, ": certificate ", issued.serial,
              " valid until ", absl::FormatTime("%Y-%m-%d", issued.not_after, absl::UTCTimeZone()),
              t.enroll_time ? " (re-enrollment: earlier certificates revoked)" : "");
          return issued;
        };
        // The CSR's key tells a retried enrollment from a second device using the same code. A
        // malformed CSR has none; `issue` then refuses it, once the terminal is known for the
        // audit.
        absl::StatusOr<std::string> public_key = pki::CsrPublicKeySha256(r.csr_pem);
        std::optional<pki::Issued> replayed;
        ASSIGN_OR_RETURN(const std::string code_hash, CodeHash(code));
        ASSIGN_OR_RETURN(Terminal terminal,
                         store_.RedeemActivationCode(code_hash, r.vendor, r.serial,
                                                     public_key.ok() ? *public_key : "", record,
                                                     replayed, audit));
        if (replayed) issued = *replayed;
        out.terminal_id = terminal.id;
        out.certificate_pem = issued.cert_pem;
        out.ca_pem = settings_.ca.cert_pem;
        out.broker_address = settings_.broker_address;
        out.not_after = issued.not_after;
        return out;
      });
  // Unknown, used, expired, locked, or another terminal's: one answer (kEnrollmentRefused).
  const bool refused =
      absl::IsUnauthenticated(result.status()) || absl::IsPermissionDenied(result.status());
  if (began) throttle_.Finish(r.source, serial_key, /*failed=*/!result.ok());
  if (refused) return absl::UnauthenticatedError(kEnrollmentRefused);
  return result;
}

absl::StatusOr<Enrolled> Enrollment::Renew(const RenewRequest& r) {
  const Actor agent{"agent", "agent (certificate renewal)", Role::kTerminal, ""};
  AuditEntry audit = BeginAudit(agent, Method::kRenewCertificate, "terminal", "");
  return AuditedAnonymous(audit, r.source, [&]() -> absl::StatusOr<Enrolled> {
    absl::StatusOr<pki::CertInfo> current =
        pki::InspectCert(r.certificate_pem, settings_.ca.cert_pem);
    if (!current.ok()) {
      return absl::UnauthenticatedError(
          "certificate_pem: not a certificate of this fleet's CA; enroll with an activation code");
    }
    audit.actor_name = absl::StrCat("agent ", Redact(current->common_name, 64));
    const absl::Time now = env_.Now();
    if (now >= current->not_after) {
      return absl::UnauthenticatedError(absl::StrCat(
          "certificate_pem: expired on ",
          absl::FormatTime("%Y-%m-%d %H:%M UTC", current->not_after, absl::UTCTimeZone()),
          "; a technician must issue an activation code to enroll again"));
    }
    if (r.csr_pem.empty()) return absl::InvalidArgumentError("csr_pem: is required");
    if (!pki::VerifyData(r.certificate_pem, r.csr_pem, r.proof).ok()) {
      return absl::UnauthenticatedError(
          "proof: not a signature of csr_pem by the current certificate's key");
    }
    ASSIGN_OR_RETURN(std::string public_key, pki::CsrPublicKeySha256(r.csr_pem));
    if (public_key == current->public_key_sha256) {
      return absl::InvalidArgumentError("csr_pem: renewal needs a new key, not the current one");
    }
    pki::Issued issued;
    EnrollmentRepository::CertificateIssuer issue =
        [&](const Terminal& t) -> absl::StatusOr<pki::Issued> {
      // Strictly after the certificate it replaces, which the broker then refuses once the
      // new one is in use.
      ASSIGN_OR_RETURN(
          issued, SignTerminalCsr(settings_, t, r.csr_pem, current->not_before + absl::Seconds(1)));
      audit.summary =
          absl::StrCat("renewed certificate ", current->serial, " (valid until ",
                       absl::FormatTime("%Y-%m-%d", current->not_after, absl::UTCTimeZone()),
                       ") with ", issued.serial, " for a new key, valid until ",
                       absl::FormatTime("%Y-%m-%d", issued.not_after, absl::UTCTimeZone()));
      return issued;
    };
    std::optional<pki::Issued> replayed;
    ASSIGN_OR_RETURN(Terminal terminal,
                     store_.RenewCertificate(current->common_name, current->serial, public_key,
                                             issue, replayed, audit));
    if (replayed) issued = *replayed;
    return Enrolled{terminal.id, issued.cert_pem, settings_.ca.cert_pem, settings_.broker_address,
                    issued.not_after};
  });
}

}  // namespace posfleet::core

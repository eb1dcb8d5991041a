// The fake's enrollment repository and unit of work: activation codes, certificates, the fleet CA
// and link disconnects, with the decisions of core/lifecycle.h as PgStore carries them out.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/core/lifecycle.h"
#include "tests/support/fakes/memory_store.h"

namespace posfleet::testing {

using core::AuditEntry;
using core::Scope;
using core::Terminal;

const MemoryStore::CertificateRow* MemoryStore::FindIssuedLocked(
    absl::string_view terminal_id, absl::string_view public_key_sha256) const {
  const CertificateRow* found = nullptr;
  for (const CertificateRow& c : d_.certificates) {
    if (c.terminal_id != terminal_id || c.public_key_sha256 != public_key_sha256 || c.revoke_time ||
        c.cert_pem.empty()) {
      continue;
    }
    if (found == nullptr || c.issue_time > found->issue_time) found = &c;
  }
  return found;
}

int MemoryStore::RevokeLocked(absl::string_view terminal_id, absl::Time now) {
  int revoked = 0;
  for (CertificateRow& c : d_.certificates) {
    if (c.terminal_id == terminal_id && !c.revoke_time) {
      c.revoke_time = now;
      ++revoked;
    }
  }
  return revoked;
}

absl::Status MemoryStore::RecordCertificateLocked(CertificateRow row) {
  for (const CertificateRow& c : d_.certificates) {
    if (c.serial == row.serial) {
      return absl::AlreadyExistsError(absl::StrCat("certificate ", row.serial, " exists"));
    }
  }
  // The store keeps whole seconds ('epoch' + seconds).
  row.not_after = absl::FromUnixSeconds(absl::ToUnixSeconds(row.not_after));
  d_.certificates.push_back(std::move(row));
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> MemoryStore::StoreActivationCode(const Scope& scope,
                                                            absl::string_view terminal_id,
                                                            absl::string_view code_hash,
                                                            absl::Duration ttl, AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  TerminalRow* row = FindTerminalLocked(terminal_id);
  if (row == nullptr || !InScopeLocked(scope, row->t)) {
    return absl::NotFoundError(absl::StrCat("terminal ", terminal_id, " not found"));
  }
  if (absl::Status s = core::MayEnroll(row->t); !s.ok()) return s;
  for (const auto& [owner, code] : d_.codes) {
    if (owner != row->t.id && code.code_hash == code_hash) {
      return absl::AlreadyExistsError("activation code taken");  // the unique constraint
    }
  }
  const absl::Time now = NowLocked();
  const absl::Time expire = now + absl::Seconds(absl::ToInt64Seconds(ttl));
  d_.codes[row->t.id] = CodeRow{std::string(code_hash), expire, std::nullopt, 0};
  audit.tenant_id = row->t.tenant_id;
  AppendLocked(std::move(audit), now);
  return expire;
}

absl::StatusOr<Terminal> MemoryStore::RedeemActivationCode(
    absl::string_view code_hash, absl::string_view vendor, absl::string_view serial,
    absl::string_view public_key_sha256, const CertificateIssuer& issue,
    std::optional<pki::Issued>& replayed, AuditEntry& audit) {
  absl::MutexLock lock(&mu_);
  auto code = std::find_if(d_.codes.begin(), d_.codes.end(),
                           [&](const auto& c) { return c.second.code_hash == code_hash; });
  if (code == d_.codes.end()) {
    return absl::UnauthenticatedError("activation_code: not valid; check it or ask for a new one");
  }
  TerminalRow& row = *FindTerminalLocked(code->first);  // codes go with their terminal
  Terminal t = row.t;
  t.presence.reset();
  audit.target_id = t.id;
  audit.tenant_id = t.tenant_id;
  const absl::Time now = NowLocked();
  const core::ActivationCodeFacts facts{code->second.used_time.has_value(),
                                        code->second.expire_time <= now, code->second.failures};
  const CertificateRow* earlier = nullptr;
  const core::RedemptionDecision decision = core::DecideRedemption(facts, t, vendor, serial, [&] {
    earlier = FindIssuedLocked(t.id, public_key_sha256);
    return earlier != nullptr;
  });
  switch (decision.action) {
    case core::Redemption::kRefuse:
      return decision.refusal;
    case core::Redemption::kMismatch:
      ++code->second.failures;  // counted though the call fails
      return decision.refusal;
    case core::Redemption::kReplay:
      replayed = pki::Issued{earlier->cert_pem, earlier->serial, earlier->not_after,
                             std::string(public_key_sha256)};
      audit.summary = core::ReplaySummary(replayed->serial, "enrollment");
      AppendLocked(audit, now);
      return t;
    case core::Redemption::kIssue:
      break;
  }
  absl::StatusOr<pki::Issued> issued = issue(t);
  if (!issued.ok()) return issued.status();
  const Data saved = d_;  // the row insert may still fail; nothing before it may stay
  code->second.used_time = now;
  RevokeLocked(t.id, now);
  if (absl::Status s =
          RecordCertificateLocked({issued->serial, t.id, issued->not_after, now, std::nullopt,
                                   issued->public_key_sha256, issued->cert_pem, ""});
      !s.ok()) {
    d_ = saved;
    return s;
  }
  if (row.t.state != core::TerminalState::kActive) row.uplink_refused_time.reset();
  row.t.state = core::TerminalState::kActive;
  row.t.enroll_time = now;
  row.t.update_time = now;
  if (row.t.presence) row.t.presence->session = 0;  // a new identity counts sessions anew
  AppendLocked(audit, now);
  Terminal active = row.t;
  active.presence.reset();
  return active;
}

absl::StatusOr<Terminal> MemoryStore::RenewCertificate(absl::string_view terminal_id,
                                                       absl::string_view current_serial,
                                                       absl::string_view public_key_sha256,
                                                       const CertificateIssuer& issue,
                                                       std::optional<pki::Issued>& replayed,
                                                       AuditEntry& audit) {
  absl::MutexLock lock(&mu_);
  TerminalRow* row = FindTerminalLocked(terminal_id);
  if (row == nullptr) return core::UnknownRenewalTerminal();
  Terminal t = row->t;
  t.presence.reset();
  audit.target_id = t.id;
  audit.tenant_id = t.tenant_id;
  core::RenewalFacts facts;
  facts.retired = t.state == core::TerminalState::kRetired;
  const CertificateRow* newest = nullptr;
  for (const CertificateRow& c : d_.certificates) {
    if (c.terminal_id != t.id) continue;
    if (c.serial == current_serial) facts.current_revoked = c.revoke_time.has_value();
    if (c.revoke_time) continue;
    // As ORDER BY issue_time DESC, serial.
    if (newest == nullptr || c.issue_time > newest->issue_time ||
        (c.issue_time == newest->issue_time && c.serial < newest->serial)) {
      newest = &c;
    }
  }
  if (newest != nullptr) {
    facts.newest =
        core::RenewalFacts::Newest{newest->serial, newest->renewed_from, newest->public_key_sha256};
  }
  const CertificateRow* issued = nullptr;
  const core::RenewalDecision decision =
      core::DecideRenewal(facts, t.id, current_serial, public_key_sha256, [&] {
        issued = FindIssuedLocked(t.id, public_key_sha256);
        return issued != nullptr;
      });
  const absl::Time now = NowLocked();
  switch (decision.action) {
    case core::Renewal::kRefuse:
      return decision.refusal;
    case core::Renewal::kReplay:
      replayed = pki::Issued{issued->cert_pem, issued->serial, issued->not_after,
                             std::string(public_key_sha256)};
      audit.summary = core::ReplaySummary(replayed->serial, "renewal");
      AppendLocked(audit, now);
      return t;
    case core::Renewal::kIssue:
      break;
  }
  absl::StatusOr<pki::Issued> fresh = issue(t);
  if (!fresh.ok()) return fresh.status();
  if (absl::Status s = RecordCertificateLocked({fresh->serial, t.id, fresh->not_after, now,
                                                std::nullopt, fresh->public_key_sha256,
                                                fresh->cert_pem, std::string(current_serial)});
      !s.ok()) {
    return s;
  }
  AppendLocked(audit, now);
  return t;
}

absl::StatusOr<int> MemoryStore::RevokeCertificates(absl::string_view terminal_id) {
  absl::MutexLock lock(&mu_);
  return RevokeLocked(terminal_id, NowLocked());
}

absl::StatusOr<pki::CertAndKey> MemoryStore::LoadOrStoreCa(const pki::CertAndKey& candidate) {
  absl::MutexLock lock(&mu_);
  if (!d_.ca) d_.ca = candidate;
  return *d_.ca;
}

absl::StatusOr<std::vector<pki::Revoked>> MemoryStore::RevokedCertificates() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  std::vector<pki::Revoked> out;
  for (const CertificateRow& c : d_.certificates) {
    if (c.revoke_time && c.not_after > now) {
      // The store reports whole seconds.
      out.push_back({c.serial, absl::FromUnixSeconds(absl::ToUnixSeconds(*c.revoke_time))});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const pki::Revoked& a, const pki::Revoked& b) { return a.serial < b.serial; });
  return out;
}

absl::StatusOr<std::vector<core::LinkDisconnect>> MemoryStore::PendingLinkDisconnects(
    size_t limit) {
  absl::MutexLock lock(&mu_);
  std::vector<core::LinkDisconnect> out;
  for (const auto& [id, time] : d_.disconnects) {
    const TerminalRow* row = FindTerminalLocked(id);
    out.push_back({id, absl::ToUnixMicros(time),
                   row != nullptr && row->t.state == core::TerminalState::kRetired});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const core::LinkDisconnect& a, const core::LinkDisconnect& b) {
                     return a.request_micros < b.request_micros;
                   });
  if (out.size() > limit) out.resize(limit);
  return out;
}

absl::Status MemoryStore::CompleteLinkDisconnects(const std::vector<core::LinkDisconnect>& done) {
  absl::MutexLock lock(&mu_);
  for (const core::LinkDisconnect& d : done) {
    auto it = d_.disconnects.find(d.terminal_id);
    // A request made again since is kept.
    if (it != d_.disconnects.end() && absl::ToUnixMicros(it->second) <= d.request_micros) {
      d_.disconnects.erase(it);
    }
  }
  return absl::OkStatus();
}

// --- Unit of work -----------------------------------------------------------------------------

absl::Status MemoryStore::RunOnce(const std::function<absl::Status()>& work) {
  Data saved;
  {
    absl::MutexLock lock(&mu_);
    saved = d_;
  }
  absl::Status status = work();
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    d_ = std::move(saved);
  }
  return status;
}

absl::Status MemoryStore::Run(const std::function<absl::Status()>& work) {
  // A unit inside a unit is a savepoint of it: undone alone, not retried alone.
  if (unit_owner_.load() == std::this_thread::get_id()) return RunOnce(work);
  absl::MutexLock unit(&unit_mu_);
  unit_owner_.store(std::this_thread::get_id());
  absl::Status status;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    status = RunOnce(work);
    if (!absl::IsAborted(status)) break;
  }
  unit_owner_.store(std::thread::id());
  return status;
}

}  // namespace posfleet::testing

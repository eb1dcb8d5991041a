// Activation codes, certificates and the fleet CA.

#include "absl/strings/str_cat.h"
#include "server/core/lifecycle.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::AuditEntry;
using core::Terminal;

const std::string kLockTerminal =
    absl::StrCat("SELECT ", kTerminalColumns,
                 " FROM terminals WHERE id = $1 AND ($2 = '' OR tenant_id = $2) "
                 "FOR UPDATE");
constexpr char kUpsertCode[] =
    "INSERT INTO activation_codes (terminal_id, code_hmac, expire_time) "
    "VALUES ($1, $2, now() + $3::int8 * interval '1 second') "
    "ON CONFLICT (terminal_id) DO UPDATE SET code_hmac = excluded.code_hmac, "
    "expire_time = excluded.expire_time, used_time = NULL, failures = 0, create_time = now() "
    "RETURNING (extract(epoch from expire_time) * 1000000)::int8";
constexpr char kFindCode[] =
    "SELECT terminal_id, used_time IS NOT NULL, expire_time <= now(), failures "
    "FROM activation_codes WHERE code_hmac = $1 FOR UPDATE";
constexpr char kCountCodeFailure[] =
    "UPDATE activation_codes SET failures = failures + 1 WHERE code_hmac = $1";
constexpr char kUseCode[] = "UPDATE activation_codes SET used_time = now() WHERE terminal_id = $1";
constexpr char kRevokeEarlier[] =
    "UPDATE certificates SET revoke_time = now() WHERE terminal_id = $1 AND revoke_time IS NULL";
constexpr char kRecordCertificate[] =
    "INSERT INTO certificates (serial, terminal_id, not_after, public_key_sha256, certificate_pem) "
    "VALUES ($1, $2, 'epoch'::timestamptz + $3::int8 * interval '1 second', $4, $5)";
constexpr char kRecordRenewed[] =
    "INSERT INTO certificates (serial, terminal_id, not_after, public_key_sha256, certificate_pem, "
    "renewed_from) "
    "VALUES ($1, $2, 'epoch'::timestamptz + $3::int8 * interval '1 second', $4, $5, $6)";
// The terminal's newest live certificate: its serial, what it was renewed from, its key.
constexpr char kNewestLive[] =
    "SELECT serial, renewed_from, public_key_sha256 FROM certificates "
    "WHERE terminal_id = $1 AND revoke_time IS NULL ORDER BY issue_time DESC, serial LIMIT 1";
// The live certificate this key already got for this terminal (an enrollment being retried).
constexpr char kFindIssued[] =
    "SELECT serial, extract(epoch from not_after)::int8, certificate_pem FROM certificates "
    "WHERE terminal_id = $1 AND public_key_sha256 = $2 AND revoke_time IS NULL "
    "AND certificate_pem IS NOT NULL ORDER BY issue_time DESC LIMIT 1";
// Whether a certificate is this terminal's and revoked; no row if it is not this terminal's.
constexpr char kCertificateRevoked[] =
    "SELECT revoke_time IS NOT NULL FROM certificates WHERE serial = $1 AND terminal_id = $2";
const std::string kActivate = absl::StrCat(
    "UPDATE terminals SET state = 'active', enroll_time = now(), update_time = now() "
    "WHERE id = $1 RETURNING ",
    kTerminalColumns);
// A new identity starts a new count of sessions (the agent's counter may have been reset with its
// state, or pushed anywhere by whoever held the old key).
constexpr char kResetSession[] = "UPDATE terminal_status SET session = 0 WHERE terminal_id = $1";
constexpr char kLoadCa[] = "SELECT cert_pem, key_pem FROM fleet_ca WHERE id = 1";
constexpr char kStoreCa[] =
    "INSERT INTO fleet_ca (id, cert_pem, key_pem) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING";
constexpr char kRevoked[] =
    "SELECT serial, extract(epoch from revoke_time)::int8 FROM certificates "
    "WHERE revoke_time IS NOT NULL AND not_after > now() ORDER BY serial";

// A row of kFindIssued.
pki::Issued IssuedFromRow(const pqxx::row& row, absl::string_view public_key_sha256) {
  return pki::Issued{row[2].c_str(), row[0].c_str(), absl::FromUnixSeconds(row[1].as<int64_t>()),
                     std::string(public_key_sha256)};
}

}  // namespace

absl::StatusOr<absl::Time> PgStore::StoreActivationCode(const core::Scope& scope,
                                                        absl::string_view terminal_id,
                                                        absl::string_view code_hash,
                                                        absl::Duration ttl, AuditEntry audit) {
  return TransactFor<absl::Time>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<absl::Time> {
        pqxx::result r = txn.exec_params(kLockTerminal, std::string(terminal_id), scope.tenant_id);
        if (r.empty())
          return absl::NotFoundError(absl::StrCat("terminal ", terminal_id, " not found"));
        const Terminal t = TerminalFromRow(r[0]);
        if (absl::Status s = core::MayEnroll(t); !s.ok()) return s;
        const int64_t expire = txn.exec_params1(kUpsertCode, t.id, std::string(code_hash),
                                                absl::ToInt64Seconds(ttl))[0]
                                   .as<int64_t>();
        audit.tenant_id = t.tenant_id;
        InsertAudit(txn, audit);
        return absl::FromUnixMicros(expire);
      });
}

absl::StatusOr<Terminal> PgStore::RedeemActivationCode(
    absl::string_view code_hash, absl::string_view vendor, absl::string_view serial,
    absl::string_view public_key_sha256, const CertificateIssuer& issue,
    std::optional<pki::Issued>& replayed, AuditEntry& audit) {
  bool mismatch = false;
  absl::StatusOr<Terminal> result =
      TransactFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
        mismatch = false;
        pqxx::result code = txn.exec_params(kFindCode, std::string(code_hash));
        if (code.empty()) {
          return absl::UnauthenticatedError(
              "activation_code: not valid; check it or ask for a new one");
        }
        const std::string terminal_id = code[0][0].c_str();
        pqxx::result row = txn.exec_params(kLockTerminal, terminal_id, std::string());
        const Terminal t = TerminalFromRow(row[0]);  // the foreign key guarantees the row
        audit.target_id = t.id;
        audit.tenant_id = t.tenant_id;
        const core::ActivationCodeFacts facts{code[0][1].as<bool>(), code[0][2].as<bool>(),
                                              code[0][3].as<int>()};
        pqxx::result earlier;  // the certificate a used code produced for this key
        const core::RedemptionDecision decision =
            core::DecideRedemption(facts, t, vendor, serial, [&] {
              earlier = txn.exec_params(kFindIssued, t.id, std::string(public_key_sha256));
              return !earlier.empty();
            });
        switch (decision.action) {
          case core::Redemption::kRefuse:
            return decision.refusal;
          case core::Redemption::kMismatch:
            mismatch = true;
            return decision.refusal;
          case core::Redemption::kReplay:
            replayed = IssuedFromRow(earlier[0], public_key_sha256);
            audit.summary = core::ReplaySummary(replayed->serial, "enrollment");
            InsertAudit(txn, audit);
            return t;
          case core::Redemption::kIssue:
            break;
        }
        absl::StatusOr<pki::Issued> issued = issue(t);
        if (!issued.ok()) return issued.status();
        txn.exec_params(kUseCode, t.id);
        txn.exec_params(kRevokeEarlier, t.id);
        txn.exec_params(kRecordCertificate, issued->serial, t.id,
                        absl::ToUnixSeconds(issued->not_after), issued->public_key_sha256,
                        issued->cert_pem);
        Terminal active = TerminalFromRow(txn.exec_params1(kActivate, t.id));
        txn.exec_params(kResetSession, t.id);
        InsertAudit(txn, audit);
        return active;
      });
  if (mismatch) {
    // The refusal rolled its transaction back; the failure it counts must stay.
    absl::Status counted = TransactFor<bool>(pool_, [&](pqxx::transaction_base& txn) {
                             txn.exec_params(kCountCodeFailure, std::string(code_hash));
                             return absl::StatusOr<bool>(true);
                           }).status();
    if (!counted.ok()) return counted;
  }
  return result;
}

absl::StatusOr<Terminal> PgStore::RenewCertificate(absl::string_view terminal_id,
                                                   absl::string_view current_serial,
                                                   absl::string_view public_key_sha256,
                                                   const CertificateIssuer& issue,
                                                   std::optional<pki::Issued>& replayed,
                                                   AuditEntry& audit) {
  return TransactFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
    pqxx::result row = txn.exec_params(kLockTerminal, std::string(terminal_id), std::string());
    if (row.empty()) return core::UnknownRenewalTerminal();
    const Terminal t = TerminalFromRow(row[0]);
    audit.target_id = t.id;
    audit.tenant_id = t.tenant_id;
    core::RenewalFacts facts;
    facts.retired = t.state == core::TerminalState::kRetired;
    pqxx::result current = txn.exec_params(kCertificateRevoked, std::string(current_serial), t.id);
    if (!current.empty()) facts.current_revoked = current[0][0].as<bool>();
    pqxx::result newest = txn.exec_params(kNewestLive, t.id);
    if (!newest.empty()) {
      facts.newest = core::RenewalFacts::Newest{newest[0][0].c_str(),
                                                newest[0][1].is_null() ? "" : newest[0][1].c_str(),
                                                newest[0][2].is_null() ? "" : newest[0][2].c_str()};
    }
    pqxx::result issued;  // the successor this key already got
    const core::RenewalDecision decision =
        core::DecideRenewal(facts, t.id, current_serial, public_key_sha256, [&] {
          issued = txn.exec_params(kFindIssued, t.id, std::string(public_key_sha256));
          return !issued.empty();
        });
    switch (decision.action) {
      case core::Renewal::kRefuse:
        return decision.refusal;
      case core::Renewal::kReplay:
        replayed = IssuedFromRow(issued[0], public_key_sha256);
        audit.summary = core::ReplaySummary(replayed->serial, "renewal");
        InsertAudit(txn, audit);
        return t;
      case core::Renewal::kIssue:
        break;
    }
    absl::StatusOr<pki::Issued> fresh = issue(t);
    if (!fresh.ok()) return fresh.status();
    txn.exec_params(kRecordRenewed, fresh->serial, t.id, absl::ToUnixSeconds(fresh->not_after),
                    fresh->public_key_sha256, fresh->cert_pem, std::string(current_serial));
    InsertAudit(txn, audit);
    return t;
  });
}

absl::StatusOr<int> PgStore::RevokeCertificates(absl::string_view terminal_id) {
  return TransactFor<int>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
    return static_cast<int>(
        txn.exec_params(kRevokeEarlier, std::string(terminal_id)).affected_rows());
  });
}

absl::StatusOr<pki::CertAndKey> PgStore::LoadOrStoreCa(const pki::CertAndKey& candidate) {
  return TransactFor<pki::CertAndKey>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<pki::CertAndKey> {
        txn.exec_params(kStoreCa, candidate.cert_pem, candidate.key_pem);
        pqxx::row r = txn.exec1(kLoadCa);
        return pki::CertAndKey{r[0].c_str(), r[1].c_str()};
      });
}

absl::StatusOr<std::vector<core::LinkDisconnect>> PgStore::PendingLinkDisconnects(size_t limit) {
  static constexpr char kPending[] =
      "SELECT d.terminal_id, (extract(epoch FROM d.request_time) * 1000000)::int8, "
      "coalesce(t.state = 'retired', false) "
      "FROM link_disconnects d LEFT JOIN terminals t ON t.id = d.terminal_id "
      "ORDER BY d.request_time LIMIT $1";
  return ReadFor<std::vector<core::LinkDisconnect>>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<core::LinkDisconnect>> {
        std::vector<core::LinkDisconnect> out;
        for (const pqxx::row& r : txn.exec_params(kPending, static_cast<int64_t>(limit))) {
          out.push_back({r[0].c_str(), r[1].as<int64_t>(), r[2].as<bool>()});
        }
        return out;
      });
}

absl::Status PgStore::CompleteLinkDisconnects(const std::vector<core::LinkDisconnect>& done) {
  static constexpr char kComplete[] =
      "DELETE FROM link_disconnects d USING unnest($1::text[], $2::text[]::int8[]) AS x(id, us) "
      "WHERE d.terminal_id = x.id "
      "AND (extract(epoch FROM d.request_time) * 1000000)::int8 <= x.us";
  if (done.empty()) return absl::OkStatus();
  std::vector<std::string> ids, micros;
  for (const core::LinkDisconnect& d : done) {
    ids.push_back(d.terminal_id);
    micros.push_back(absl::StrCat(d.request_micros));
  }
  return pool_.Transact([&](pqxx::transaction_base& txn) {
    txn.exec_params(kComplete, PgTextArray(ids), PgTextArray(micros));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<pki::Revoked>> PgStore::RevokedCertificates() {
  return ReadFor<std::vector<pki::Revoked>>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<pki::Revoked>> {
        std::vector<pki::Revoked> out;
        for (const pqxx::row& r : txn.exec(kRevoked)) {
          out.push_back({r[0].c_str(), absl::FromUnixSeconds(r[1].as<int64_t>())});
        }
        return out;
      });
}

}  // namespace posfleet::store

// API tokens and the audit log.

#include "absl/strings/str_cat.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::AuditEntry;
using core::Scope;
using core::Token;

const std::string kInsertToken = absl::StrCat(
    "INSERT INTO api_tokens (id, name, role, tenant_id, secret_sha256, created_by) "
    "VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6) RETURNING ",
    kTokenColumns);
const std::string kListTokens = absl::StrCat(
    "SELECT ", kTokenColumns,
    " FROM api_tokens WHERE ($1 = '' OR tenant_id = $1) AND ($2 OR revoke_time IS NULL) "
    "AND seq > $3 ORDER BY seq LIMIT $4");
const std::string kRevokeToken = absl::StrCat(
    "UPDATE api_tokens SET revoke_time = coalesce(revoke_time, now()) "
    "WHERE id = $1 AND ($2 = '' OR tenant_id = $2) RETURNING ",
    kTokenColumns);
const std::string kAuthenticate = absl::StrCat(
    "SELECT ", kTokenColumns, " FROM api_tokens WHERE secret_sha256 = $1 AND revoke_time IS NULL");
// Serializes concurrent first starts of several replicas.
constexpr char kBootstrapLock[] = "SELECT pg_advisory_xact_lock(7317002)";
constexpr char kAnyGlobalAdmin[] =
    "SELECT 1 FROM api_tokens WHERE tenant_id IS NULL AND role = 'admin' AND revoke_time IS NULL "
    "LIMIT 1";
const std::string kListAudit = absl::StrCat(
    "SELECT ", kAuditColumns,
    " FROM audit_log WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR actor_id = $2) "
    "AND ($3 = '' OR target_id = $3) "
    "AND ($4::int8 IS NULL OR time >= 'epoch'::timestamptz + $4::int8 * interval '1 microsecond') "
    "AND ($5::int8 IS NULL OR time < 'epoch'::timestamptz + $5::int8 * interval '1 microsecond') "
    "AND ($6 = 0 OR id < $6) ORDER BY id DESC LIMIT $7");

// A nullable int8 parameter: libpqxx 6 sends a null char pointer as SQL NULL.
struct OptionalMicros {
  std::string text;
  bool null = true;
  const char* param() const { return null ? nullptr : text.c_str(); }
};

OptionalMicros Micros(const std::optional<absl::Time>& t) {
  if (!t) return {};
  return {absl::StrCat(absl::ToUnixMicros(*t)), false};
}

int64_t AuditPosition(const pqxx::row& row) { return row[0].as<int64_t>(); }

}  // namespace

absl::StatusOr<Token> PgStore::CreateToken(const Token& token, absl::string_view secret_hash,
                                           AuditEntry audit) {
  return TransactFor<Token>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Token> {
    try {
      Token created = TokenFromRow(txn.exec_params1(
          kInsertToken, token.id, token.name, std::string(core::RoleName(token.role)),
          token.tenant_id, std::string(secret_hash), token.created_by));
      InsertAudit(txn, audit);
      return created;
    } catch (const pqxx::foreign_key_violation&) {
      return absl::NotFoundError(absl::StrCat("tenant_id: tenant ", token.tenant_id, " not found"));
    }
  });
}

absl::StatusOr<core::Slice<Token>> PgStore::ListTokens(const Scope& scope, bool include_revoked,
                                                       const core::Window& window) {
  return ReadFor<core::Slice<Token>>(pool_, [&](pqxx::transaction_base& txn) {
    return SliceFrom<Token>(txn.exec_params(kListTokens, scope.tenant_id, include_revoked,
                                            window.after, window.limit + 1),
                            window.limit, TokenFromRow);
  });
}

absl::StatusOr<Token> PgStore::RevokeToken(const Scope& scope, absl::string_view id,
                                           AuditEntry audit) {
  return TransactFor<Token>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Token> {
    pqxx::result r = txn.exec_params(kRevokeToken, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("token ", id, " not found"));
    Token revoked = TokenFromRow(r[0]);
    audit.tenant_id = revoked.tenant_id;
    InsertAudit(txn, audit);
    return revoked;
  });
}

absl::StatusOr<Token> PgStore::Authenticate(absl::string_view secret_hash) {
  return ReadFor<Token>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Token> {
    pqxx::result r = txn.exec_params(kAuthenticate, std::string(secret_hash));
    if (r.empty()) return absl::NotFoundError("no such token");
    return TokenFromRow(r[0]);
  });
}

absl::StatusOr<bool> PgStore::BootstrapAdmin(const Token& token, absl::string_view secret_hash,
                                             AuditEntry audit) {
  return TransactFor<bool>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
    txn.exec(kBootstrapLock);
    if (!txn.exec(kAnyGlobalAdmin).empty()) return false;
    try {
      txn.exec_params(kInsertToken, token.id, token.name, std::string(core::RoleName(token.role)),
                      std::string(), std::string(secret_hash), "system");
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(
          "the bootstrap admin token was used before and has been revoked; choose another");
    }
    InsertAudit(txn, audit);
    return true;
  });
}

absl::Status PgStore::AppendAudit(const AuditEntry& entry) {
  return pool_.Transact([&](pqxx::transaction_base& txn) {
    InsertAudit(txn, entry);
    return absl::OkStatus();
  });
}

absl::StatusOr<core::Slice<AuditEntry>> PgStore::ListAudit(const core::AuditFilter& f,
                                                           const core::Window& window) {
  const OptionalMicros start = Micros(f.start_time);
  const OptionalMicros end = Micros(f.end_time);
  return ReadFor<core::Slice<AuditEntry>>(pool_, [&](pqxx::transaction_base& txn) {
    return SliceFrom<AuditEntry>(
        txn.exec_params(kListAudit, f.scope.tenant_id, f.actor_id, f.target_id, start.param(),
                        end.param(), window.after, window.limit + 1),
        window.limit, AuditFromRow, &AuditPosition);
  });
}

}  // namespace posfleet::store

// Terminals: create (single and bulk), read, list with label selectors, locked updates.

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::AuditEntry;
using core::BatchItemResult;
using core::Scope;
using core::Terminal;

// The merchant decides the tenant; a merchant outside the caller's scope inserts nothing.
const std::string kInsertTerminalSelect =
    "INSERT INTO terminals (id, tenant_id, merchant_id, vendor, model, serial, tid, labels, state) "
    "SELECT $1, m.tenant_id, m.id, $3, $4, $5, $6, $7::jsonb, $8 FROM merchants m "
    "WHERE m.id = $2 AND ($9 = '' OR m.tenant_id = $9) ";
const std::string kInsertTerminal =
    absl::StrCat(kInsertTerminalSelect, "RETURNING ", kTerminalColumns);
const std::string kInsertTerminalIfNew =
    absl::StrCat(kInsertTerminalSelect,
                 "ON CONFLICT (tenant_id, vendor, serial) DO NOTHING RETURNING tenant_id");
// Why a bulk item inserted nothing: the existing terminal, if the merchant is in scope.
constexpr char kFindExisting[] =
    "SELECT m.tenant_id, t.id FROM merchants m LEFT JOIN terminals t "
    "ON t.tenant_id = m.tenant_id AND t.vendor = $2 AND t.serial = $3 "
    "WHERE m.id = $1 AND ($4 = '' OR m.tenant_id = $4)";
const std::string kSelectTerminal = absl::StrCat(
    "SELECT ", kTerminalColumns, " FROM terminals WHERE id = $1 AND ($2 = '' OR tenant_id = $2)");
const std::string kSelectTerminalForUpdate = absl::StrCat(kSelectTerminal, " FOR UPDATE");
const std::string kUpdateTerminal = absl::StrCat(
    "UPDATE terminals SET merchant_id = $2, tid = $3, labels = $4::jsonb, state = $5, "
    "update_time = now() WHERE id = $1 RETURNING ",
    kTerminalColumns);
// $4: labels that must be present with these values (served by the GIN index);
// $5: every requirement as [{"k":key,"op":"in|notin|exists|notexists","v":[values]}], which
// must all hold (the reference semantics are core::Matches).
const std::string kListTerminals = absl::StrCat(
    "SELECT ", kTerminalColumns, " FROM terminals t WHERE ($1 = '' OR t.tenant_id = $1) ",
    "AND ($2 = '' OR t.merchant_id = $2) AND ($3 = '' OR t.state = $3) ",
    "AND t.labels @> $4::jsonb AND NOT EXISTS (",
    "  SELECT 1 FROM jsonb_array_elements($5::jsonb) r WHERE NOT CASE r->>'op' ",
    "    WHEN 'in' THEN coalesce((r->'v') ? (t.labels->>(r->>'k')), false) ",
    "    WHEN 'notin' THEN NOT coalesce((r->'v') ? (t.labels->>(r->>'k')), false) ",
    "    WHEN 'exists' THEN t.labels ? (r->>'k') ", "    ELSE NOT (t.labels ? (r->>'k')) END) ",
    "AND t.seq > $6 ORDER BY t.seq LIMIT $7");

absl::Status MerchantNotFound(absl::string_view merchant_id) {
  return absl::NotFoundError(absl::StrCat("merchant_id: merchant ", merchant_id, " not found"));
}

pqxx::result InsertRow(pqxx::dbtransaction& txn, const std::string& sql, const Terminal& t,
                       const Scope& scope) {
  return txn.exec_params(sql, t.id, t.merchant_id, t.vendor, t.model, t.serial, t.tid,
                         LabelsToJson(t.labels), std::string(core::StateName(t.state)),
                         scope.tenant_id);
}

}  // namespace

absl::StatusOr<Terminal> PgStore::CreateTerminal(const Scope& scope, const Terminal& terminal,
                                                 AuditEntry audit) {
  return TransactFor<Terminal>(pool_, [&](pqxx::dbtransaction& txn) -> absl::StatusOr<Terminal> {
    try {
      pqxx::result r = InsertRow(txn, kInsertTerminal, terminal, scope);
      if (r.empty()) return MerchantNotFound(terminal.merchant_id);
      Terminal created = TerminalFromRow(r[0]);
      audit.tenant_id = created.tenant_id;
      InsertAudit(txn, audit);
      return created;
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(absl::StrCat("a terminal with vendor ", terminal.vendor,
                                                   " and serial ", terminal.serial,
                                                   " already exists in this tenant"));
    }
  });
}

absl::StatusOr<std::vector<BatchItemResult>> PgStore::CreateTerminals(
    const Scope& scope, const std::vector<Terminal>& terminals, bool all_or_nothing,
    const AuditEntry& audit) {
  using Results = std::vector<BatchItemResult>;
  Results results;
  absl::Status status = pool_.Transact([&](pqxx::dbtransaction& txn) -> absl::Status {
    results.assign(terminals.size(), BatchItemResult{});
    int created = 0, skipped = 0, failed = 0;
    std::string tenant_of_batch;
    for (size_t i = 0; i < terminals.size(); ++i) {
      const Terminal& t = terminals[i];
      BatchItemResult& out = results[i];
      pqxx::result r = InsertRow(txn, kInsertTerminalIfNew, t, scope);
      if (!r.empty()) {
        out = {BatchItemResult::Outcome::kCreated, t.id, "", ""};
        AuditEntry row = audit;
        row.tenant_id = r[0][0].c_str();
        row.target_id = t.id;
        row.summary = absl::StrCat("imported ", t.vendor, "/", t.model, " serial ", t.serial,
                                   " for merchant ", t.merchant_id);
        InsertAudit(txn, row);
        tenant_of_batch = row.tenant_id;
        ++created;
        continue;
      }
      pqxx::result existing =
          txn.exec_params(kFindExisting, t.merchant_id, t.vendor, t.serial, scope.tenant_id);
      if (existing.empty()) {
        out = {BatchItemResult::Outcome::kFailed, "", "merchant_id",
               absl::StrCat("merchant ", t.merchant_id, " not found")};
        ++failed;
      } else {
        out = {BatchItemResult::Outcome::kSkipped, existing[0][1].c_str(), "",
               "vendor and serial already exist in this tenant; nothing changed"};
        ++skipped;
      }
    }
    if (all_or_nothing && failed > 0) {
      // Report what failed; the transaction is rolled back by returning a non-OK status.
      return absl::CancelledError("rolled back");
    }
    AuditEntry summary = audit;
    summary.tenant_id = scope.all() ? tenant_of_batch : scope.tenant_id;
    summary.summary = absl::StrCat("bulk import of ", terminals.size(), ": created ", created,
                                   ", skipped ", skipped, ", failed ", failed);
    InsertAudit(txn, summary);
    return absl::OkStatus();
  });
  if (absl::IsCancelled(status)) {
    for (BatchItemResult& r : results) {
      if (r.outcome == BatchItemResult::Outcome::kCreated) r.terminal_id.clear();
    }
    return results;
  }
  if (!status.ok()) return status;
  return results;
}

absl::StatusOr<Terminal> PgStore::GetTerminal(const Scope& scope, absl::string_view id) {
  return TransactFor<Terminal>(pool_, [&](pqxx::dbtransaction& txn) -> absl::StatusOr<Terminal> {
    pqxx::result r = txn.exec_params(kSelectTerminal, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
    return TerminalFromRow(r[0]);
  });
}

absl::StatusOr<core::Slice<Terminal>> PgStore::ListTerminals(const core::TerminalFilter& f,
                                                             const core::Window& window) {
  nlohmann::json must_contain = nlohmann::json::object();
  nlohmann::json requirements = nlohmann::json::array();
  for (const core::LabelRequirement& r : f.selector) {
    if (r.op == core::LabelRequirement::Op::kIn && r.values.size() == 1) {
      must_contain[r.key] = r.values[0];
    }
    requirements.push_back({{"k", r.key}, {"op", core::OpName(r.op)}, {"v", r.values}});
  }
  const std::string state = f.state ? std::string(core::StateName(*f.state)) : "";
  return TransactFor<core::Slice<Terminal>>(pool_, [&](pqxx::dbtransaction& txn) {
    return SliceFrom<Terminal>(
        txn.exec_params(kListTerminals, f.scope.tenant_id, f.merchant_id, state,
                        must_contain.dump(), requirements.dump(), window.after, window.limit + 1),
        window.limit, TerminalFromRow);
  });
}

absl::StatusOr<Terminal> PgStore::UpdateTerminal(const Scope& scope, absl::string_view id,
                                                 const core::Mutation<Terminal>& mutate,
                                                 AuditEntry audit) {
  return TransactFor<Terminal>(pool_, [&](pqxx::dbtransaction& txn) -> absl::StatusOr<Terminal> {
    pqxx::result r = txn.exec_params(kSelectTerminalForUpdate, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
    Terminal t = TerminalFromRow(r[0]);
    absl::StatusOr<std::string> summary = mutate(t);
    if (!summary.ok()) return summary.status();
    try {
      Terminal updated = TerminalFromRow(txn.exec_params1(kUpdateTerminal, t.id, t.merchant_id,
                                                          t.tid, LabelsToJson(t.labels),
                                                          std::string(core::StateName(t.state))));
      audit.tenant_id = updated.tenant_id;
      audit.summary = *summary;
      InsertAudit(txn, audit);
      return updated;
    } catch (const pqxx::foreign_key_violation&) {
      // The composite key (tenant, merchant) refuses a merchant of another tenant too.
      return MerchantNotFound(t.merchant_id);
    }
  });
}

}  // namespace posfleet::store

// Terminals: create (single and bulk), read, list with label selectors, locked updates.

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/core/lifecycle.h"
#include "server/core/params.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::AuditEntry;
using core::BatchItemResult;
using core::Scope;
using core::Terminal;

// The merchant decides the tenant; a merchant outside the caller's scope inserts nothing.
const std::string kInsertTerminal = absl::StrCat(
    "INSERT INTO terminals (id, tenant_id, merchant_id, vendor, model, serial, tid, labels, state) "
    "SELECT $1, m.tenant_id, m.id, $3, $4, $5, $6, $7::jsonb, $8 FROM merchants m "
    "WHERE m.id = $2 AND ($9 = '' OR m.tenant_id = $9) RETURNING ",
    kTerminalColumns);
// Bulk import as three set-based statements whatever the batch size. $1..$7: parallel arrays of
// id, merchant, vendor, model, serial, tid, labels (JSON); $8: scope. Insertion follows input
// order, so a paging client sees imported terminals in file order.
constexpr char kInsertTerminalsIfNew[] =
    "INSERT INTO terminals (id, tenant_id, merchant_id, vendor, model, serial, tid, labels, state) "
    "SELECT i.id, m.tenant_id, m.id, i.vendor, i.model, i.serial, i.tid, i.labels::jsonb, "
    "'provisioned' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::text[]) WITH ORDINALITY AS i(id, merchant_id, vendor, model, serial, tid, "
    "labels, n) JOIN merchants m ON m.id = i.merchant_id AND ($8 = '' OR m.tenant_id = $8) "
    "ORDER BY i.n ON CONFLICT (tenant_id, vendor, serial) DO NOTHING RETURNING id, tenant_id";
// For the items not inserted: the terminal that already holds their vendor+serial, if their
// merchant is in scope. Positions are 1-based.
constexpr char kFindExisting[] =
    "SELECT i.n, t.id FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY "
    "AS i(merchant_id, vendor, serial, n) JOIN merchants m ON m.id = i.merchant_id "
    "AND ($4 = '' OR m.tenant_id = $4) JOIN terminals t ON t.tenant_id = m.tenant_id "
    "AND t.vendor = i.vendor AND t.serial = i.serial";
// One audit row per created terminal.
constexpr char kInsertAudits[] =
    "INSERT INTO audit_log (actor_id, actor_name, role, tenant_id, method, target_type, target_id, "
    "summary, result) SELECT $1, $2, $3, x.tenant_id, $4, 'terminal', x.id, x.summary, 'OK' "
    "FROM unnest($5::text[], $6::text[], $7::text[]) AS x(id, tenant_id, summary)";
const std::string kSelectTerminal =
    absl::StrCat("SELECT ", kTerminalPresenceColumns,
                 " FROM terminals t LEFT JOIN terminal_status s ON s.terminal_id = t.id "
                 "WHERE t.id = $1 AND ($2 = '' OR t.tenant_id = $2)");
const std::string kSelectTerminalForUpdate =
    absl::StrCat("SELECT ", kTerminalColumns,
                 " FROM terminals WHERE id = $1 AND ($2 = '' OR tenant_id = $2) FOR UPDATE");
// A change of merchant or labels bumps config_epoch: the terminal's desired parameter set must be
// computed again (migration 000015).
const std::string kUpdateTerminal = absl::StrCat(
    "UPDATE terminals SET merchant_id = $2, tid = $3, labels = $4::jsonb, state = $5, "
    "config_epoch = config_epoch + (merchant_id IS DISTINCT FROM $2 OR labels IS DISTINCT FROM "
    "$4::jsonb)::int, update_time = now() WHERE id = $1 RETURNING ",
    kTerminalColumns);
// The WHERE clause of a core::TerminalFilter over terminals t LEFT JOIN terminal_status s, with
// parameters $1..$13 in the order FilterParams binds them.
// $4: labels that must be present with these values (served by the GIN index; not vendor and
// model, which may come from the terminal's fields: POSFLEET_SELECTOR_LABELS);
// $5: every requirement as [{"k":key,"op":"in|notin|exists|notexists","v":[values]}], which
// must all hold (the reference semantics are core::Matches).
constexpr char kTerminalWhere[] =
    "WHERE ($1 = '' OR t.tenant_id = $1) "
    "AND ($2 = '' OR t.merchant_id = $2) AND ($3 = '' OR t.state = $3) "
    "AND t.labels @> $4::jsonb AND NOT EXISTS ("
    "  SELECT 1 FROM jsonb_array_elements($5::jsonb) r WHERE NOT CASE r->>'op' "
    "    WHEN 'in' THEN coalesce((r->'v') ? (" POSFLEET_SELECTOR_LABELS
    "->>(r->>'k')), false) "
    "    WHEN 'notin' THEN NOT coalesce((r->'v') ? (" POSFLEET_SELECTOR_LABELS
    "->>(r->>'k')), false) "
    "    WHEN 'exists' THEN " POSFLEET_SELECTOR_LABELS
    " ? (r->>'k') "
    "    ELSE NOT (" POSFLEET_SELECTOR_LABELS
    " ? (r->>'k')) END) "
    "AND ($6::bool IS NULL OR coalesce(s.online, false) = $6::bool) "
    "AND ($7::int8 = 0 OR (NOT coalesce(s.online, false) AND "
    "coalesce(s.change_time, t.create_time) < now() - $7::int8 * interval '1 second')) "
    "AND ($8::int = 0 OR (s.battery_percent >= 0 AND s.battery_percent < $8::int)) "
    "AND ($9 = '' OR s.paper = $9) "
    "AND ($10 = '' OR coalesce(s.versions->>$10 = $11, false) <> $12::bool) "
    "AND ($13::text[] IS NULL OR t.id = ANY($13::text[])) ";
const std::string kListTerminals =
    absl::StrCat("SELECT ", kTerminalPresenceColumns,
                 " FROM terminals t LEFT JOIN terminal_status s ON s.terminal_id = t.id ",
                 kTerminalWhere, "AND t.seq > $14 ORDER BY t.seq LIMIT $15");
// One row per count: (kind, key, count). Every count comes from the same snapshot.
const std::string kSummarizeFleet = absl::StrCat(
    "WITH f AS (SELECT t.state, t.vendor, t.model, s.online, s.battery_percent, s.paper, "
    "s.versions FROM terminals t LEFT JOIN terminal_status s ON s.terminal_id = t.id ",
    kTerminalWhere,
    ") "
    "SELECT 'state', state, count(*) FROM f GROUP BY state "
    "UNION ALL SELECT 'presence', CASE WHEN online IS NULL THEN 'never' WHEN online "
    "THEN 'online' ELSE 'offline' END, count(*) FROM f GROUP BY 2 "
    "UNION ALL SELECT 'model', vendor || ' ' || model, count(*) FROM f GROUP BY 2 "
    "UNION ALL SELECT 'software', v.key || '=' || v.value, count(*) "
    "FROM f, jsonb_each_text(f.versions) v GROUP BY 2 "
    "UNION ALL SELECT 'paper', paper, count(*) FROM f WHERE paper IN ('low', 'out') GROUP BY 2 "
    "UNION ALL SELECT 'battery', 'low', count(*) FROM f "
    "WHERE battery_percent >= 0 AND battery_percent < $14");

absl::Status MerchantNotFound(absl::string_view merchant_id) {
  return absl::NotFoundError(absl::StrCat("merchant_id: merchant ", merchant_id, " not found"));
}

pqxx::result InsertRow(pqxx::transaction_base& txn, const std::string& sql, const Terminal& t,
                       const Scope& scope) {
  return txn.exec_params(sql, t.id, t.merchant_id, t.vendor, t.model, t.serial, t.tid,
                         LabelsToJson(t.labels), std::string(core::StateName(t.state)),
                         scope.tenant_id);
}

}  // namespace

absl::StatusOr<Terminal> PgStore::CreateTerminal(const Scope& scope, const Terminal& terminal,
                                                 AuditEntry audit) {
  return TransactFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
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
  std::vector<std::string> ids, merchants, vendors, models, serials, tids, labels;
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < terminals.size(); ++i) {
    const Terminal& t = terminals[i];
    ids.push_back(t.id);
    merchants.push_back(t.merchant_id);
    vendors.push_back(t.vendor);
    models.push_back(t.model);
    serials.push_back(t.serial);
    tids.push_back(t.tid);
    labels.push_back(LabelsToJson(t.labels));
    index_of[t.id] = i;
  }
  std::vector<BatchItemResult> results;
  absl::Status status = pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    results.assign(terminals.size(), BatchItemResult{});
    pqxx::result inserted =
        txn.exec_params(kInsertTerminalsIfNew, PgTextArray(ids), PgTextArray(merchants),
                        PgTextArray(vendors), PgTextArray(models), PgTextArray(serials),
                        PgTextArray(tids), PgTextArray(labels), scope.tenant_id);
    std::vector<std::string> audit_ids, audit_tenants, audit_summaries;
    for (const pqxx::row& row : inserted) {
      const size_t i = index_of.at(row[0].c_str());
      const Terminal& t = terminals[i];
      results[i] = {BatchItemResult::Outcome::kCreated, t.id, "", ""};
      audit_ids.push_back(t.id);
      audit_tenants.push_back(row[1].c_str());
      audit_summaries.push_back(absl::StrCat("imported ", t.vendor, "/", t.model, " serial ",
                                             t.serial, " for merchant ", t.merchant_id));
    }
    int skipped = 0, failed = 0;
    if (inserted.size() < terminals.size()) {
      for (const pqxx::row& row :
           txn.exec_params(kFindExisting, PgTextArray(merchants), PgTextArray(vendors),
                           PgTextArray(serials), scope.tenant_id)) {
        BatchItemResult& r = results[row[0].as<size_t>() - 1];
        if (r.outcome == BatchItemResult::Outcome::kCreated) continue;
        r = {BatchItemResult::Outcome::kSkipped, row[1].c_str(), "",
             "vendor and serial already exist in this tenant; nothing changed"};
        ++skipped;
      }
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].outcome != BatchItemResult::Outcome::kFailed || !results[i].error.empty()) {
          continue;
        }
        results[i] = {BatchItemResult::Outcome::kFailed, "", "merchant_id",
                      absl::StrCat("merchant ", terminals[i].merchant_id, " not found")};
        ++failed;
      }
    }
    if (all_or_nothing && failed > 0) {
      // Report what failed; returning a non-OK status rolls the transaction back.
      return absl::CancelledError("rolled back");
    }
    if (!audit_ids.empty()) {
      txn.exec_params(kInsertAudits, audit.actor_id, audit.actor_name,
                      std::string(core::RoleName(audit.role)), audit.method, PgTextArray(audit_ids),
                      PgTextArray(audit_tenants), PgTextArray(audit_summaries));
    }
    AuditEntry summary = audit;
    summary.tenant_id =
        scope.all() && !audit_tenants.empty() ? audit_tenants.back() : scope.tenant_id;
    summary.summary = absl::StrCat("bulk import of ", terminals.size(), ": created ",
                                   audit_ids.size(), ", skipped ", skipped, ", failed ", failed);
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
  return ReadFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
    pqxx::result r = txn.exec_params(kSelectTerminal, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
    return TerminalFromRow(r[0]);
  });
}

namespace {

// Binds a filter as $1..$13 of kTerminalWhere.
struct FilterParams {
  explicit FilterParams(const core::TerminalFilter& f) : filter(f) {
    for (const core::LabelRequirement& r : f.selector) {
      if (r.op == core::LabelRequirement::Op::kIn && r.values.size() == 1 &&
          !core::IsFieldLabel(r.key)) {
        must_contain[r.key] = r.values[0];
      }
      requirements.push_back({{"k", r.key}, {"op", core::OpName(r.op)}, {"v", r.values}});
    }
    state = f.state ? std::string(core::StateName(*f.state)) : "";
    if (f.ids) ids = PgTextArray(*f.ids);
  }

  template <typename... Extra>
  pqxx::result Exec(pqxx::transaction_base& txn, const std::string& sql, Extra&&... extra) const {
    const char* online = filter.online ? (*filter.online ? "true" : "false") : nullptr;
    const core::SoftwareMatch none;
    const core::SoftwareMatch& sw = filter.software ? *filter.software : none;
    return txn.exec_params(sql, filter.scope.tenant_id, filter.merchant_id, state,
                           must_contain.dump(), requirements.dump(), online,
                           absl::ToInt64Seconds(filter.offline_for), filter.battery_below,
                           filter.paper, sw.component, sw.version, sw.negate,
                           ids ? ids->c_str() : nullptr, std::forward<Extra>(extra)...);
  }

  const core::TerminalFilter& filter;
  nlohmann::json must_contain = nlohmann::json::object();
  nlohmann::json requirements = nlohmann::json::array();
  std::string state;
  std::optional<std::string> ids;
};

}  // namespace

absl::StatusOr<core::Slice<Terminal>> PgStore::ListTerminals(const core::TerminalFilter& f,
                                                             const core::Window& window) {
  const FilterParams params(f);
  return ReadFor<core::Slice<Terminal>>(pool_, [&](pqxx::transaction_base& txn) {
    return SliceFrom<Terminal>(params.Exec(txn, kListTerminals, window.after, window.limit + 1),
                               window.limit, TerminalFromRow);
  });
}

absl::StatusOr<core::FleetSummary> PgStore::SummarizeFleet(const core::TerminalFilter& f) {
  const FilterParams params(f);
  return ReadFor<core::FleetSummary>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<core::FleetSummary> {
        core::FleetSummary sum;
        for (const pqxx::row& row : params.Exec(txn, kSummarizeFleet, core::kLowBatteryPercent)) {
          const std::string kind = row[0].c_str();
          const std::string key = row[1].is_null() ? "" : row[1].c_str();
          const int64_t n = row[2].as<int64_t>();
          if (kind == "state") {
            sum.by_state[absl::AsciiStrToLower(key)] = n;
            sum.terminals += n;
          } else if (kind == "presence") {
            (key == "online" ? sum.online : key == "offline" ? sum.offline : sum.never_seen) = n;
          } else if (kind == "model") {
            sum.by_model[key] = n;
          } else if (kind == "software") {
            const size_t eq = key.find('=');
            sum.software.push_back({key.substr(0, eq), key.substr(eq + 1), n});
          } else if (kind == "paper") {
            (key == "low" ? sum.paper_low : sum.paper_out) = n;
          } else if (kind == "battery") {
            sum.battery_low = n;
          }
        }
        std::sort(sum.software.begin(), sum.software.end(),
                  [](const core::SoftwareCount& a, const core::SoftwareCount& b) {
                    return std::tie(a.component, a.version) < std::tie(b.component, b.version);
                  });
        return sum;
      });
}

absl::StatusOr<Terminal> PgStore::LockTerminal(const Scope& scope, absl::string_view id) {
  return TransactFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
    pqxx::result r = txn.exec_params(kSelectTerminalForUpdate, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
    return TerminalFromRow(r[0]);
  });
}

absl::StatusOr<Terminal> PgStore::UpdateTerminal(const Scope& scope, absl::string_view id,
                                                 const core::Mutation<Terminal>& mutate,
                                                 AuditEntry audit) {
  return TransactFor<Terminal>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Terminal> {
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

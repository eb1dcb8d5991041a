#include "tests/support/fakes/memory_store.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "server/core/label_selector.h"
#include "server/core/params.h"
#include "tests/support/fakes/rows.h"

namespace posfleet::testing {
namespace {

using core::AuditEntry;
using core::Merchant;
using core::Scope;
using core::Tenant;
using core::Terminal;
using core::Token;

// As POSFLEET_MAX_SESSION_JUMP in pg_store_presence.cc.
constexpr int64_t kMaxSessionJump = 100000;

using fake_rows::SliceOf;
using fake_rows::SortBySeq;

bool InTenant(const Scope& scope, absl::string_view tenant_id) {
  return scope.all() || scope.tenant_id == tenant_id;
}

// What makes two submissions of one transaction id the same record: every field but seq.
std::string ContentOf(const core::Txn& t) {
  return absl::StrJoin(std::make_tuple(absl::ToUnixMicros(t.time), t.type, t.result, t.amount_minor,
                                       t.currency, t.response_code, t.scheme, t.entry_mode,
                                       t.masked_pan, t.stan, t.auth_code, t.mid, t.tid),
                       "\x1f");
}

absl::Status TenantNameTaken(absl::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat("a tenant named \"", name, "\" already exists"));
}

}  // namespace

absl::Time MemoryStore::NowLocked() {
  last_now_ = std::max(env_.Now(), last_now_ + tick_);
  return last_now_;
}

void MemoryStore::AppendLocked(AuditEntry entry, absl::Time now) {
  entry.id = static_cast<int64_t>(d_.audit.size()) + 1;
  entry.time = now;
  d_.audit.push_back(std::move(entry));
}

// --- Organisation -----------------------------------------------------------------------------

absl::StatusOr<Tenant> MemoryStore::CreateTenant(const Tenant& tenant, AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, row] : d_.tenants) {
    if (row.value.name == tenant.name || id == tenant.id) return TenantNameTaken(tenant.name);
  }
  const absl::Time now = NowLocked();
  Tenant created{tenant.id, tenant.name, now, now};
  d_.tenants[tenant.id] = {next_seq_++, created};
  AppendLocked(std::move(audit), now);
  return created;
}

absl::StatusOr<Tenant> MemoryStore::GetTenant(const Scope& scope, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = d_.tenants.find(std::string(id));
  if (it == d_.tenants.end() || !InTenant(scope, it->first)) {
    return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  }
  return it->second.value;
}

namespace {

// Rows of a map whose values carry a seq, after `after`, in seq order, as (seq, value) pairs.
template <typename Map, typename Keep, typename Value>
std::vector<std::pair<int64_t, Value>> BySeq(const Map& rows, int64_t after, Keep keep,
                                             Value (*value)(const typename Map::mapped_type&)) {
  std::vector<std::pair<int64_t, Value>> out;
  for (const auto& [id, row] : rows) {
    if (row.seq > after && keep(row)) out.emplace_back(row.seq, value(row));
  }
  SortBySeq(out);
  return out;
}

template <typename Row>
auto ValueOf(const Row& row) -> decltype(row.value) {
  return row.value;
}

}  // namespace

absl::StatusOr<core::Slice<Tenant>> MemoryStore::ListTenants(const Scope& scope,
                                                             const core::Window& window) {
  absl::MutexLock lock(&mu_);
  auto rows = BySeq(
      d_.tenants, window.after, [&](const Row<Tenant>& r) { return InTenant(scope, r.value.id); },
      &ValueOf<Row<Tenant>>);
  return SliceOf<Tenant>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<Tenant> MemoryStore::UpdateTenant(absl::string_view id,
                                                 const core::Mutation<Tenant>& mutate,
                                                 AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto it = d_.tenants.find(std::string(id));
  if (it == d_.tenants.end()) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  Tenant t = it->second.value;
  absl::StatusOr<std::string> summary = mutate(t);
  if (!summary.ok()) return summary.status();
  for (const auto& [other_id, row] : d_.tenants) {
    if (other_id != it->first && row.value.name == t.name) return TenantNameTaken(t.name);
  }
  const absl::Time now = NowLocked();
  it->second.value.name = t.name;
  it->second.value.update_time = now;
  audit.tenant_id = it->first;
  audit.summary = *summary;
  AppendLocked(std::move(audit), now);
  return it->second.value;
}

absl::Status MemoryStore::DeleteTenant(absl::string_view id, AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto it = d_.tenants.find(std::string(id));
  if (it == d_.tenants.end()) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
  for (const auto& [mid, row] : d_.merchants) {
    if (row.value.tenant_id == id) {
      return absl::FailedPreconditionError(
          absl::StrCat("tenant ", id, " still has merchants; delete them first"));
    }
  }
  d_.tenants.erase(it);
  d_.configs.erase(std::string(id));                         // ON DELETE CASCADE
  for (auto t = d_.tokens.begin(); t != d_.tokens.end();) {  // ON DELETE CASCADE
    t = t->second.token.tenant_id == id ? d_.tokens.erase(t) : std::next(t);
  }
  AppendLocked(std::move(audit), NowLocked());
  return absl::OkStatus();
}

absl::StatusOr<Merchant> MemoryStore::CreateMerchant(const Merchant& m, AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, row] : d_.merchants) {
    if (id == m.id || (row.value.tenant_id == m.tenant_id && row.value.mid == m.mid)) {
      return absl::AlreadyExistsError(
          absl::StrCat("a merchant with mid ", m.mid, " already exists in this tenant"));
    }
  }
  if (d_.tenants.count(m.tenant_id) == 0) {
    return absl::NotFoundError(absl::StrCat("tenant_id: tenant ", m.tenant_id, " not found"));
  }
  const absl::Time now = NowLocked();
  Merchant created = m;
  created.create_time = created.update_time = now;
  d_.merchants[m.id] = {next_seq_++, created};
  audit.tenant_id = created.tenant_id;
  AppendLocked(std::move(audit), now);
  return created;
}

absl::StatusOr<Merchant> MemoryStore::GetMerchant(const Scope& scope, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = d_.merchants.find(std::string(id));
  if (it == d_.merchants.end() || !InTenant(scope, it->second.value.tenant_id)) {
    return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
  }
  return it->second.value;
}

absl::StatusOr<core::Slice<Merchant>> MemoryStore::ListMerchants(const Scope& scope,
                                                                 const core::Window& window) {
  absl::MutexLock lock(&mu_);
  auto rows = BySeq(
      d_.merchants, window.after,
      [&](const Row<Merchant>& r) { return InTenant(scope, r.value.tenant_id); },
      &ValueOf<Row<Merchant>>);
  return SliceOf<Merchant>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<Merchant> MemoryStore::UpdateMerchant(const Scope& scope, absl::string_view id,
                                                     const core::Mutation<Merchant>& mutate,
                                                     AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto it = d_.merchants.find(std::string(id));
  if (it == d_.merchants.end() || !InTenant(scope, it->second.value.tenant_id)) {
    return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
  }
  Merchant m = it->second.value;
  absl::StatusOr<std::string> summary = mutate(m);
  if (!summary.ok()) return summary.status();
  const absl::Time now = NowLocked();
  Merchant& stored = it->second.value;
  stored.name = m.name;
  stored.country = m.country;
  stored.update_time = now;
  audit.tenant_id = stored.tenant_id;
  audit.summary = *summary;
  AppendLocked(std::move(audit), now);
  return stored;
}

absl::Status MemoryStore::DeleteMerchant(const Scope& scope, absl::string_view id,
                                         AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto it = d_.merchants.find(std::string(id));
  if (it == d_.merchants.end() || !InTenant(scope, it->second.value.tenant_id)) {
    return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
  }
  for (const auto& [tid, row] : d_.terminals) {
    if (row.t.merchant_id == id) {
      return absl::FailedPreconditionError(
          absl::StrCat("merchant ", id, " still has terminals; move or delete them first"));
    }
  }
  audit.tenant_id = it->second.value.tenant_id;
  d_.merchants.erase(it);
  AppendLocked(std::move(audit), NowLocked());
  return absl::OkStatus();
}

// --- Terminals --------------------------------------------------------------------------------

bool MemoryStore::InScopeLocked(const Scope& scope, const Terminal& t) const {
  return InTenant(scope, t.tenant_id);
}

MemoryStore::TerminalRow* MemoryStore::FindTerminalLocked(absl::string_view id) {
  auto it = d_.terminals.find(std::string(id));
  return it == d_.terminals.end() ? nullptr : &it->second;
}

absl::StatusOr<Terminal> MemoryStore::CreateTerminal(const Scope& scope, const Terminal& terminal,
                                                     AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto m = d_.merchants.find(terminal.merchant_id);
  if (m == d_.merchants.end() || !InTenant(scope, m->second.value.tenant_id)) {
    return absl::NotFoundError(
        absl::StrCat("merchant_id: merchant ", terminal.merchant_id, " not found"));
  }
  const std::string& tenant_id = m->second.value.tenant_id;
  for (const auto& [id, row] : d_.terminals) {
    if (id == terminal.id || (row.t.tenant_id == tenant_id && row.t.vendor == terminal.vendor &&
                              row.t.serial == terminal.serial)) {
      return absl::AlreadyExistsError(absl::StrCat("a terminal with vendor ", terminal.vendor,
                                                   " and serial ", terminal.serial,
                                                   " already exists in this tenant"));
    }
  }
  const absl::Time now = NowLocked();
  Terminal t = terminal;
  t.tenant_id = tenant_id;
  t.enroll_time.reset();
  t.presence.reset();
  t.create_time = t.update_time = now;
  d_.terminals[t.id] = TerminalRow{next_seq_++, t, std::nullopt, std::nullopt, std::nullopt};
  audit.tenant_id = tenant_id;
  AppendLocked(std::move(audit), now);
  return t;
}

absl::StatusOr<std::vector<core::BatchItemResult>> MemoryStore::CreateTerminals(
    const Scope& scope, const std::vector<Terminal>& terminals, bool all_or_nothing,
    const AuditEntry& audit) {
  using Outcome = core::BatchItemResult::Outcome;
  absl::MutexLock lock(&mu_);
  std::vector<core::BatchItemResult> results(terminals.size());
  std::vector<Terminal> created;
  auto holder = [&](const std::string& tenant_id, const Terminal& t) -> std::string {
    for (const auto& [id, row] : d_.terminals) {
      if (row.t.tenant_id == tenant_id && row.t.vendor == t.vendor && row.t.serial == t.serial) {
        return id;
      }
    }
    for (const Terminal& c : created) {
      if (c.tenant_id == tenant_id && c.vendor == t.vendor && c.serial == t.serial) return c.id;
    }
    return "";
  };
  int skipped = 0, failed = 0;
  const absl::Time now = NowLocked();
  for (size_t i = 0; i < terminals.size(); ++i) {
    const Terminal& in = terminals[i];
    auto m = d_.merchants.find(in.merchant_id);
    if (m == d_.merchants.end() || !InTenant(scope, m->second.value.tenant_id)) {
      results[i] = {Outcome::kFailed, "", "merchant_id",
                    absl::StrCat("merchant ", in.merchant_id, " not found")};
      ++failed;
      continue;
    }
    const std::string existing = holder(m->second.value.tenant_id, in);
    if (!existing.empty()) {
      results[i] = {Outcome::kSkipped, existing, "",
                    "vendor and serial already exist in this tenant; nothing changed"};
      ++skipped;
      continue;
    }
    Terminal t = in;
    t.tenant_id = m->second.value.tenant_id;
    t.state = core::TerminalState::kProvisioned;
    t.enroll_time.reset();
    t.presence.reset();
    t.create_time = t.update_time = now;
    created.push_back(t);
    results[i] = {Outcome::kCreated, t.id, "", ""};
  }
  if (all_or_nothing && failed > 0) {
    for (core::BatchItemResult& r : results) {
      if (r.outcome == Outcome::kCreated) r.terminal_id.clear();
    }
    return results;
  }
  for (const Terminal& t : created) {
    d_.terminals[t.id] = TerminalRow{next_seq_++, t, std::nullopt, std::nullopt, std::nullopt};
    AuditEntry one = audit;
    one.tenant_id = t.tenant_id;
    one.target_type = "terminal";
    one.target_id = t.id;
    one.summary = absl::StrCat("imported ", t.vendor, "/", t.model, " serial ", t.serial,
                               " for merchant ", t.merchant_id);
    one.result = "OK";
    AppendLocked(std::move(one), now);
  }
  AuditEntry summary = audit;
  summary.tenant_id = scope.all() && !created.empty() ? created.back().tenant_id : scope.tenant_id;
  summary.summary = absl::StrCat("bulk import of ", terminals.size(), ": created ", created.size(),
                                 ", skipped ", skipped, ", failed ", failed);
  AppendLocked(std::move(summary), now);
  return results;
}

absl::StatusOr<Terminal> MemoryStore::GetTerminal(const Scope& scope, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  TerminalRow* row = FindTerminalLocked(id);
  if (row == nullptr || !InScopeLocked(scope, row->t)) {
    return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
  }
  return row->t;
}

bool MemoryStore::MatchesLocked(const core::TerminalFilter& f, const Terminal& t,
                                absl::Time now) const {
  if (!InScopeLocked(f.scope, t)) return false;
  if (!f.merchant_id.empty() && t.merchant_id != f.merchant_id) return false;
  if (f.state && t.state != *f.state) return false;
  if (!core::Matches(f.selector, core::SelectorLabels(t))) return false;
  const bool online = t.presence && t.presence->online;
  if (f.online && online != *f.online) return false;
  if (f.offline_for > absl::ZeroDuration()) {
    const absl::Time since = t.presence ? t.presence->change_time : t.create_time;
    const absl::Duration whole_seconds = absl::Seconds(absl::ToInt64Seconds(f.offline_for));
    if (online || !(since < now - whole_seconds)) return false;
  }
  const core::Health* health = t.presence && t.presence->health ? &*t.presence->health : nullptr;
  if (f.battery_below > 0 &&
      !(health && health->battery_percent >= 0 && health->battery_percent < f.battery_below)) {
    return false;
  }
  if (!f.paper.empty() && !(health && health->paper == f.paper)) return false;
  if (f.software && !f.software->component.empty()) {
    bool same = false;
    if (health) {
      auto v = health->versions.find(f.software->component);
      same = v != health->versions.end() && v->second == f.software->version;
    }
    if (same == f.software->negate) return false;
  }
  if (f.ids && std::find(f.ids->begin(), f.ids->end(), t.id) == f.ids->end()) return false;
  return true;
}

absl::StatusOr<core::Slice<Terminal>> MemoryStore::ListTerminals(const core::TerminalFilter& f,
                                                                 const core::Window& window) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  std::vector<std::pair<int64_t, Terminal>> rows;
  for (const auto& [id, row] : d_.terminals) {
    if (row.seq > window.after && MatchesLocked(f, row.t, now)) rows.emplace_back(row.seq, row.t);
  }
  SortBySeq(rows);
  return SliceOf<Terminal>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<core::FleetSummary> MemoryStore::SummarizeFleet(const core::TerminalFilter& f) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  core::FleetSummary sum;
  std::map<std::pair<std::string, std::string>, int64_t> software;
  for (const auto& [id, row] : d_.terminals) {
    const Terminal& t = row.t;
    if (!MatchesLocked(f, t, now)) continue;
    ++sum.terminals;
    ++sum.by_state[std::string(core::StateName(t.state))];
    if (!t.presence) {
      ++sum.never_seen;
    } else if (t.presence->online) {
      ++sum.online;
    } else {
      ++sum.offline;
    }
    ++sum.by_model[absl::StrCat(t.vendor, " ", t.model)];
    if (t.presence && t.presence->health) {
      const core::Health& h = *t.presence->health;
      for (const auto& [component, version] : h.versions) ++software[{component, version}];
      if (h.paper == "low") ++sum.paper_low;
      if (h.paper == "out") ++sum.paper_out;
      if (h.battery_percent >= 0 && h.battery_percent < core::kLowBatteryPercent) {
        ++sum.battery_low;
      }
    }
  }
  for (const auto& [key, n] : software) sum.software.push_back({key.first, key.second, n});
  return sum;
}

absl::StatusOr<Terminal> MemoryStore::LockTerminal(const Scope& scope, absl::string_view id) {
  // Units of work run one at a time here, so a read holds as well as a row lock would.
  absl::StatusOr<Terminal> t = GetTerminal(scope, id);
  if (t.ok()) t->presence.reset();  // as the store's locked read, which does not join it
  return t;
}

absl::StatusOr<Terminal> MemoryStore::UpdateTerminal(const Scope& scope, absl::string_view id,
                                                     const core::Mutation<Terminal>& mutate,
                                                     AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  TerminalRow* row = FindTerminalLocked(id);
  if (row == nullptr || !InScopeLocked(scope, row->t)) {
    return absl::NotFoundError(absl::StrCat("terminal ", id, " not found"));
  }
  Terminal t = row->t;
  t.presence.reset();  // as the store's locked read, which does not join the presence
  absl::StatusOr<std::string> summary = mutate(t);
  if (!summary.ok()) return summary.status();
  auto m = d_.merchants.find(t.merchant_id);
  if (m == d_.merchants.end() || m->second.value.tenant_id != row->t.tenant_id) {
    return absl::NotFoundError(absl::StrCat("merchant_id: merchant ", t.merchant_id, " not found"));
  }
  const absl::Time now = NowLocked();
  Terminal& stored = row->t;
  // As the trigger terminal_link_access: a suspended or retired terminal's live connection is
  // to be closed; an active one's uplinks are welcome again.
  if (stored.state != t.state) {
    if (t.state == core::TerminalState::kActive) row->uplink_refused_time.reset();
    if (t.state == core::TerminalState::kSuspended || t.state == core::TerminalState::kRetired) {
      d_.disconnects[stored.id] = now;
    }
  }
  // A change of merchant or labels: the desired parameter set must be computed again.
  if (stored.merchant_id != t.merchant_id || stored.labels != t.labels) ++row->config_epoch;
  stored.merchant_id = t.merchant_id;
  stored.tid = t.tid;
  stored.labels = t.labels;
  stored.state = t.state;
  stored.update_time = now;
  audit.tenant_id = stored.tenant_id;
  audit.summary = *summary;
  AppendLocked(std::move(audit), now);
  Terminal updated = stored;
  updated.presence.reset();  // the store returns the row without its presence
  return updated;
}

// --- Tokens -----------------------------------------------------------------------------------

absl::StatusOr<Token> MemoryStore::CreateToken(const Token& token, absl::string_view secret_hash,
                                               AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  if (!token.tenant_id.empty() && d_.tenants.count(token.tenant_id) == 0) {
    return absl::NotFoundError(absl::StrCat("tenant_id: tenant ", token.tenant_id, " not found"));
  }
  for (const auto& [id, row] : d_.tokens) {
    if (id == token.id || row.secret_hash == secret_hash) {
      return absl::AlreadyExistsError(absl::StrCat("token ", token.id, " already exists"));
    }
  }
  const absl::Time now = NowLocked();
  Token created = token;
  created.create_time = now;
  created.revoke_time.reset();
  d_.tokens[token.id] = TokenRow{next_seq_++, created, std::string(secret_hash)};
  AppendLocked(std::move(audit), now);
  return created;
}

absl::StatusOr<core::Slice<Token>> MemoryStore::ListTokens(const Scope& scope, bool include_revoked,
                                                           const core::Window& window) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, Token>> rows;
  for (const auto& [id, row] : d_.tokens) {
    const bool in_scope = scope.all() || row.token.tenant_id == scope.tenant_id;
    if (row.seq > window.after && in_scope && (include_revoked || !row.token.revoke_time)) {
      rows.emplace_back(row.seq, row.token);
    }
  }
  SortBySeq(rows);
  return SliceOf<Token>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<Token> MemoryStore::RevokeToken(const Scope& scope, absl::string_view id,
                                               AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  auto it = d_.tokens.find(std::string(id));
  if (it == d_.tokens.end() || !(scope.all() || it->second.token.tenant_id == scope.tenant_id)) {
    return absl::NotFoundError(absl::StrCat("token ", id, " not found"));
  }
  const absl::Time now = NowLocked();
  Token& t = it->second.token;
  if (!t.revoke_time) t.revoke_time = now;
  audit.tenant_id = t.tenant_id;
  AppendLocked(std::move(audit), now);
  return t;
}

absl::StatusOr<Token> MemoryStore::Authenticate(absl::string_view secret_hash) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, row] : d_.tokens) {
    if (row.secret_hash == secret_hash && !row.token.revoke_time) return row.token;
  }
  return absl::NotFoundError("no such token");
}

absl::StatusOr<bool> MemoryStore::BootstrapAdmin(const Token& token, absl::string_view secret_hash,
                                                 AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, row] : d_.tokens) {
    const Token& t = row.token;
    if (t.tenant_id.empty() && t.role == core::Role::kAdmin && !t.revoke_time) return false;
  }
  for (const auto& [id, row] : d_.tokens) {
    if (id == token.id || row.secret_hash == secret_hash) {
      return absl::AlreadyExistsError(
          "the bootstrap admin token was used before and has been revoked; choose another");
    }
  }
  const absl::Time now = NowLocked();
  Token created = token;
  created.tenant_id.clear();
  created.created_by = "system";
  created.create_time = now;
  created.revoke_time.reset();
  d_.tokens[token.id] = TokenRow{next_seq_++, created, std::string(secret_hash)};
  AppendLocked(std::move(audit), now);
  return true;
}

// --- Audit log --------------------------------------------------------------------------------

absl::Status MemoryStore::AppendAudit(const AuditEntry& entry) {
  absl::MutexLock lock(&mu_);
  AppendLocked(entry, NowLocked());
  return absl::OkStatus();
}

absl::StatusOr<core::Slice<AuditEntry>> MemoryStore::ListAudit(const core::AuditFilter& f,
                                                               const core::Window& window) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, AuditEntry>> rows;
  for (auto it = d_.audit.rbegin(); it != d_.audit.rend(); ++it) {
    const AuditEntry& e = *it;
    if (window.after != 0 && e.id >= window.after) continue;
    if (!f.scope.all() && e.tenant_id != f.scope.tenant_id) continue;
    if (!f.actor_id.empty() && e.actor_id != f.actor_id) continue;
    if (!f.target_id.empty() && e.target_id != f.target_id) continue;
    if (f.start_time && e.time < *f.start_time) continue;
    if (f.end_time && !(e.time < *f.end_time)) continue;
    rows.emplace_back(e.id, e);
  }
  return SliceOf<AuditEntry>(rows, window, [](const auto& r) { return r.first; });
}

// --- Presence ---------------------------------------------------------------------------------

std::vector<std::string> MemoryStore::RefuseInactiveLocked(const std::vector<std::string>& ids,
                                                           absl::Time now) {
  std::vector<std::string> inactive;
  for (const std::string& id : std::set<std::string>(ids.begin(), ids.end())) {
    TerminalRow* row = FindTerminalLocked(id);
    if (row == nullptr || row->t.state == core::TerminalState::kActive) continue;
    inactive.push_back(id);
    if (row->uplink_refused_time) continue;
    row->uplink_refused_time = now;
    AuditEntry e;
    e.actor_id = id;
    e.actor_name = "terminal link";
    e.role = core::Role::kTerminal;
    e.tenant_id = row->t.tenant_id;
    e.method = "Link.Uplink";
    e.target_type = "terminal";
    e.target_id = id;
    e.summary = absl::StrCat("uplinks refused: the terminal is ", core::StateName(row->t.state));
    e.result = "PERMISSION_DENIED";
    AppendLocked(std::move(e), now);
  }
  return inactive;
}

namespace {

// Whether a report of `session` may replace what `presence` recorded.
bool SessionMayAdvance(const std::optional<core::Presence>& presence, int64_t session) {
  if (!presence) return true;
  return session >= presence->session && session - presence->session <= kMaxSessionJump;
}

}  // namespace

absl::StatusOr<core::HistoryWritten> MemoryStore::ApplyLinkReports(
    const std::vector<core::StatusReport>& statuses,
    const std::vector<core::HealthReport>& heartbeats, absl::Duration history_every) {
  absl::MutexLock lock(&mu_);
  core::HistoryWritten written;
  const absl::Time now = NowLocked();
  std::vector<std::string> all;
  for (const core::HealthReport* r : core::NewestPerTerminal(heartbeats)) {
    all.push_back(r->terminal_id);
    TerminalRow* row = FindTerminalLocked(r->terminal_id);
    if (row == nullptr || row->t.state != core::TerminalState::kActive) continue;
    std::optional<core::Presence>& p = row->t.presence;
    if (p && !SessionMayAdvance(p, r->session)) continue;
    if (!p) {
      p = core::Presence{true, r->session, now, now, "", r->health};
    } else {
      if (!p->online) p->change_time = now;
      p->online = true;
      p->session = r->session;
      p->last_seen = now;
      p->health = r->health;
    }
    // Sampled when the last sample is at least `history_every` old (milliseconds, as in SQL).
    const bool sampled =
        history_every != core::kNoHistory &&
        (!row->history_time ||
         *row->history_time <= now - absl::Milliseconds(absl::ToInt64Milliseconds(history_every)));
    if (sampled) {
      row->history_time = now;
      d_.history[r->terminal_id].push_back(core::HealthSample{now, r->session, r->health});
      ++written.samples;
    }
  }
  for (const core::StatusReport* r : core::NewestPerTerminal(statuses)) {
    all.push_back(r->terminal_id);
    TerminalRow* row = FindTerminalLocked(r->terminal_id);
    if (row == nullptr || row->t.state != core::TerminalState::kActive) continue;
    std::optional<core::Presence>& p = row->t.presence;
    if (!p) {
      p = core::Presence{r->online, r->session, now, now, r->agent_version, std::nullopt};
      continue;
    }
    if (!SessionMayAdvance(p, r->session)) continue;
    if (p->online != r->online) p->change_time = now;
    if (r->online) p->last_seen = now;
    p->online = r->online;
    p->session = r->session;
    if (!r->agent_version.empty()) p->agent_version = r->agent_version;
  }
  const std::vector<std::string> inactive = RefuseInactiveLocked(all, now);
  for (const std::string& id : all) {
    written.refused_inactive += std::count(inactive.begin(), inactive.end(), id);
  }
  return written;
}

absl::StatusOr<int> MemoryStore::MarkSilentOffline(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  const absl::Time cutoff = now - absl::Milliseconds(absl::ToInt64Milliseconds(timeout));
  int marked = 0;
  for (auto& [id, row] : d_.terminals) {
    std::optional<core::Presence>& p = row.t.presence;
    if (p && p->online && p->last_seen < cutoff) {
      p->online = false;
      p->change_time = now;
      ++marked;
    }
  }
  return marked;
}

absl::StatusOr<core::Slice<core::HealthSample>> MemoryStore::ListHealthHistory(
    const Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
    std::optional<absl::Time> end_time, const core::Window& window) {
  absl::MutexLock lock(&mu_);
  TerminalRow* row = FindTerminalLocked(terminal_id);
  if (row == nullptr || !InScopeLocked(scope, row->t)) {
    return absl::NotFoundError(absl::StrCat("terminal ", terminal_id, " not found"));
  }
  std::vector<std::pair<int64_t, core::HealthSample>> rows;
  auto it = d_.history.find(std::string(terminal_id));
  if (it != d_.history.end()) {
    for (auto s = it->second.rbegin(); s != it->second.rend(); ++s) {
      const int64_t micros = absl::ToUnixMicros(s->time);
      if (start_time && s->time < *start_time) continue;
      if (end_time && !(s->time < *end_time)) continue;
      if (window.after != 0 && micros >= window.after) continue;
      rows.emplace_back(micros, *s);
    }
  }
  return SliceOf<core::HealthSample>(rows, window, [](const auto& r) { return r.first; });
}

// --- Transactions -----------------------------------------------------------------------------

absl::StatusOr<core::IngestOutcome> MemoryStore::IngestTransactions(
    const std::vector<core::Txn>& txns) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  core::IngestOutcome out;
  out.committed.assign(txns.size(), false);
  out.conflict.assign(txns.size(), false);
  if (txns.empty()) return out;
  std::vector<std::string> ids;
  for (const core::Txn& t : txns) ids.push_back(t.terminal_id);
  RefuseInactiveLocked(ids, now);
  std::map<std::string, absl::Time> newest;  // per active terminal, the latest record time
  for (size_t i = 0; i < txns.size(); ++i) {
    const core::Txn& in = txns[i];
    TerminalRow* row = FindTerminalLocked(in.terminal_id);
    if (row == nullptr) {
      ++out.unknown_terminal;
      continue;
    }
    if (row->t.state != core::TerminalState::kActive) {
      ++out.inactive_terminal;
      continue;
    }
    auto [n, first] = newest.emplace(in.terminal_id, in.time);
    if (!first && in.time > n->second) n->second = in.time;
    const std::string content = ContentOf(in);
    auto [id, claimed] = d_.txn_ids.emplace(std::make_pair(in.terminal_id, in.txn_id), content);
    if (claimed) {
      core::Txn stored = in;
      stored.id = static_cast<int64_t>(d_.txns.size()) + 1;
      stored.tenant_id = row->t.tenant_id;
      stored.merchant_id = row->t.merchant_id;
      stored.receive_time = now;
      d_.txns.push_back(std::move(stored));
      out.committed[i] = true;
      ++out.inserted;
    } else if (id->second == content) {
      out.committed[i] = true;
      ++out.duplicates;
    } else {
      out.conflict[i] = true;
      ++out.conflicts;
    }
  }
  // The last transaction time moves forward to the minute, on terminals with a presence row.
  for (const auto& [terminal_id, time] : newest) {
    TerminalRow* row = FindTerminalLocked(terminal_id);
    if (!row->t.presence) continue;
    if (!row->last_txn_time || *row->last_txn_time < time - absl::Minutes(1)) {
      row->last_txn_time = time;
    }
  }
  return out;
}

absl::StatusOr<core::Slice<core::Txn>> MemoryStore::ListTransactions(const core::TxnFilter& f,
                                                                     const core::Window& window) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, core::Txn>> rows;
  for (auto it = d_.txns.rbegin(); it != d_.txns.rend(); ++it) {
    const core::Txn& t = *it;
    if (window.after != 0 && t.id >= window.after) continue;
    if (!InTenant(f.scope, t.tenant_id)) continue;
    if (!f.terminal_id.empty() && t.terminal_id != f.terminal_id) continue;
    if (!f.merchant_id.empty() && t.merchant_id != f.merchant_id) continue;
    if (t.time < f.start_time || !(t.time < f.end_time)) continue;
    if (f.type != 0 && t.type != f.type) continue;
    if (f.result != 0 && t.result != f.result) continue;
    rows.emplace_back(t.id, t);
  }
  return SliceOf<core::Txn>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<std::vector<core::DailyTotal>> MemoryStore::DailyTotals(
    const core::TxnReportFilter& f) {
  absl::MutexLock lock(&mu_);
  using Key = std::tuple<std::string, std::string, std::string, std::string, int, int>;
  std::map<Key, std::pair<int64_t, int64_t>> groups;  // -> count, amount
  for (const core::Txn& t : d_.txns) {
    if (!InTenant(f.scope, t.tenant_id)) continue;
    if (!f.merchant_id.empty() && t.merchant_id != f.merchant_id) continue;
    if (!f.terminal_id.empty() && t.terminal_id != f.terminal_id) continue;
    if (t.time < f.start_time || !(t.time < f.end_time)) continue;
    const std::string day = absl::FormatCivilTime(absl::ToCivilDay(t.time, absl::UTCTimeZone()));
    auto& g = groups[Key{day, t.merchant_id, f.by_terminal ? t.terminal_id : "", t.currency, t.type,
                         t.result}];
    ++g.first;
    g.second += t.amount_minor;
  }
  std::vector<core::DailyTotal> totals;
  for (const auto& [k, g] : groups) {
    totals.push_back(core::DailyTotal{std::get<0>(k), std::get<1>(k), std::get<2>(k),
                                      std::get<3>(k), std::get<4>(k), std::get<5>(k), g.first,
                                      g.second});
  }
  return totals;
}

absl::StatusOr<core::Slice<core::SilentTerminal>> MemoryStore::ListSilentTerminals(
    const Scope& scope, absl::string_view merchant_id, absl::Duration silent_for,
    const core::Window& window) {
  absl::MutexLock lock(&mu_);
  const absl::Time cutoff = NowLocked() - absl::Seconds(absl::ToInt64Seconds(silent_for));
  std::vector<std::pair<int64_t, core::SilentTerminal>> rows;
  for (const auto& [id, row] : d_.terminals) {
    const Terminal& t = row.t;
    if (row.seq <= window.after || !t.presence || !t.presence->online) continue;
    if (!InScopeLocked(scope, t)) continue;
    if (!merchant_id.empty() && t.merchant_id != merchant_id) continue;
    if (row.last_txn_time && !(*row.last_txn_time < cutoff)) continue;
    rows.emplace_back(row.seq,
                      core::SilentTerminal{t.id, t.merchant_id, t.serial, row.last_txn_time});
  }
  SortBySeq(rows);
  return SliceOf<core::SilentTerminal>(rows, window, [](const auto& r) { return r.first; });
}

}  // namespace posfleet::testing

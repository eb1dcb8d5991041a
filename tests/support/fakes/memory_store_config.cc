// MemoryStore's parameters: revisions, each terminal's desired set, publish claims, reports and
// sync state, with the rules of pg_store_config.cc (the contract suite holds them together).
// Revisions are kept as the store keeps them, encoded documents (server/store/config_document.h),
// so that what survives a round trip through the store survives one here.

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/params.h"
#include "server/store/config_document.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/fakes/rows.h"

namespace posfleet::testing {
namespace {

using core::ConfigCommit;
using core::ConfigHead;
using core::ConfigRevision;
using core::Scope;
using core::SyncState;
using fake_rows::SliceOf;
using fake_rows::SortBySeq;

absl::Status TenantNotFound(absl::string_view tenant_id) {
  return absl::NotFoundError(absl::StrCat("tenant ", tenant_id, " not found"));
}

bool InScope(const Scope& scope, absl::string_view tenant_id) {
  return scope.all() || scope.tenant_id == tenant_id;
}

// As the store's SchemaDiffers: any difference in the specs.
bool SchemaDiffers(const core::TenantParams& a, const core::TenantParams& b) {
  core::TenantParams sa;
  sa.schema = a.schema;
  core::TenantParams sb;
  sb.schema = b.schema;
  return store::EncodeConfigDocument(sa) != store::EncodeConfigDocument(sb);
}

}  // namespace

absl::Status MemoryStore::CheckTenantLocked(const Scope& scope,
                                            const std::string& tenant_id) const {
  if (!InScope(scope, tenant_id) || d_.tenants.count(tenant_id) == 0) {
    return TenantNotFound(tenant_id);
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfigHead> MemoryStore::ReadHeadLocked(const std::string& tenant_id,
                                                       int64_t revision) const {
  auto config = d_.configs.find(tenant_id);
  const int64_t wanted =
      revision != 0 ? revision : (config == d_.configs.end() ? 0 : config->second.head);
  if (config == d_.configs.end() || config->second.documents.count(wanted) == 0) {
    if (revision == 0) return core::EmptyConfigHead(tenant_id);
    return absl::NotFoundError(
        absl::StrCat("tenant ", tenant_id, " has no configuration revision ", revision));
  }
  ConfigHead head;
  head.tenant_id = tenant_id;
  head.meta = config->second.meta.at(wanted);
  ASSIGN_OR_RETURN(head.params,
                   store::DecodeConfigDocument(config->second.documents.at(wanted), tenant_id));
  return head;
}

std::vector<MemoryStore::ConfigTarget> MemoryStore::ConfigTargetsLocked(
    const std::string& tenant_id, bool stale_only) const {
  std::vector<std::pair<int64_t, ConfigTarget>> rows;
  for (const auto& [id, row] : d_.terminals) {
    if (row.t.tenant_id != tenant_id || row.t.state == core::TerminalState::kRetired) continue;
    ConfigTarget target{core::TargetOf(row.t), "", row.config_epoch, -1};
    auto tc = d_.terminal_config.find(id);
    if (tc != d_.terminal_config.end()) {
      target.stored_hash = tc->second.desired_hash;
      target.computed_epoch = tc->second.computed_epoch;
    }
    const bool stale = target.computed_epoch < 0 || target.epoch > target.computed_epoch;
    if (stale_only && !stale) continue;
    rows.emplace_back(row.seq, std::move(target));
  }
  SortBySeq(rows);
  std::vector<ConfigTarget> out;
  out.reserve(rows.size());
  for (auto& [seq, target] : rows) out.push_back(std::move(target));
  return out;
}

absl::StatusOr<std::vector<const core::ParamTarget*>> MemoryStore::StoreDesiredLocked(
    const std::string& tenant_id, const core::TenantParams& params, int64_t revision,
    const std::vector<ConfigTarget>& targets, bool all, bool refuse_oversized, absl::Time now) {
  std::vector<core::ParamTarget> plain;
  plain.reserve(targets.size());
  for (const ConfigTarget& t : targets) plain.push_back(t.target);
  const std::vector<core::DesiredSet> sets = core::DesiredSets(params, plain);
  if (refuse_oversized) RETURN_IF_ERROR(core::CheckSetSizes(params, plain, sets));
  std::vector<const core::ParamTarget*> changed;
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string hash = absl::AsciiStrToLower(sets[i].hash);
    const bool differs = hash != targets[i].stored_hash;
    if (differs) changed.push_back(&targets[i].target);
    if (!differs && !all && targets[i].epoch == targets[i].computed_epoch) continue;
    auto [it, inserted] = d_.terminal_config.try_emplace(targets[i].target.id);
    TerminalConfigRow& row = it->second;
    row.tenant_id = tenant_id;
    row.computed_epoch = targets[i].epoch;
    if (inserted || row.desired_hash != hash) {
      row.desired_revision = revision;
      row.desired_time = now;
      row.desired_hash = hash;
    }
  }
  return changed;
}

absl::StatusOr<ConfigHead> MemoryStore::LoadConfig(const Scope& scope, absl::string_view tenant_id,
                                                   int64_t revision) {
  absl::MutexLock lock(&mu_);
  const std::string tenant(tenant_id);
  RETURN_IF_ERROR(CheckTenantLocked(scope, tenant));
  return ReadHeadLocked(tenant, revision);
}

absl::StatusOr<ConfigCommit> MemoryStore::CommitConfig(const Scope& scope,
                                                       absl::string_view tenant_id,
                                                       const core::ConfigChange& change,
                                                       bool dry_run, size_t sample,
                                                       core::AuditEntry audit) {
  const std::string tenant(tenant_id);
  // One unit, undone on an error or for a dry run, as the store's transaction is.
  static const absl::Status* const kDryRun = new absl::Status(absl::CancelledError("dry run"));
  std::optional<ConfigCommit> out;
  const absl::Status status = RunOnce([&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckTenantLocked(scope, tenant));
    const absl::Time now = NowLocked();
    ConfigRow& config = d_.configs[tenant];
    ASSIGN_OR_RETURN(ConfigHead before, ReadHeadLocked(tenant, config.head));
    ConfigCommit commit;
    commit.before = std::move(before.params);
    commit.after = commit.before;
    commit.meta.revision = config.head + 1;
    commit.meta.schema_version = before.meta.schema_version;
    commit.meta.author = absl::StrCat(audit.actor_name, " (", audit.actor_id, ")");
    ASSIGN_OR_RETURN(commit.meta.summary, change(commit.after, commit.meta));
    commit.schema_changed = SchemaDiffers(commit.before, commit.after);
    if (commit.schema_changed) commit.meta.schema_version = commit.meta.revision;

    const std::vector<ConfigTarget> targets = ConfigTargetsLocked(tenant, /*stale_only=*/false);
    ASSIGN_OR_RETURN(const std::vector<const core::ParamTarget*> changed,
                     StoreDesiredLocked(tenant, commit.after, commit.meta.revision, targets,
                                        /*all=*/false, /*refuse_oversized=*/true, now));
    commit.terminals_changed = static_cast<int64_t>(changed.size());
    commit.meta.terminals_changed = commit.terminals_changed;
    for (size_t i = 0; i < changed.size() && i < sample; ++i) commit.sample.push_back(*changed[i]);
    // Time order is revision order, as the store's GREATEST(clock_timestamp(), ...).
    commit.meta.create_time = now;
    if (!config.meta.empty()) {
      commit.meta.create_time = std::max(now, config.meta.rbegin()->second.create_time);
    }
    config.meta[commit.meta.revision] = commit.meta;
    config.documents[commit.meta.revision] = store::EncodeConfigDocument(commit.after);
    config.head = commit.meta.revision;
    audit.tenant_id = tenant;
    audit.summary = absl::StrCat("revision ", commit.meta.revision, ": ", commit.meta.summary, " (",
                                 commit.terminals_changed, " terminals changed)");
    AppendLocked(std::move(audit), now);
    out = std::move(commit);
    return dry_run ? *kDryRun : absl::OkStatus();
  });
  if (!status.ok() && !(dry_run && status == *kDryRun)) return status;
  return *std::move(out);
}

absl::StatusOr<core::Slice<ConfigRevision>> MemoryStore::ListConfigRevisions(
    const Scope& scope, absl::string_view tenant_id, const core::Window& window) {
  absl::MutexLock lock(&mu_);
  const std::string tenant(tenant_id);
  RETURN_IF_ERROR(CheckTenantLocked(scope, tenant));
  // Newest first; the window position is the revision.
  std::vector<std::pair<int64_t, ConfigRevision>> rows;
  auto config = d_.configs.find(tenant);
  if (config != d_.configs.end()) {
    for (auto it = config->second.meta.rbegin(); it != config->second.meta.rend(); ++it) {
      if (window.after == 0 || it->first < window.after) rows.emplace_back(*it);
    }
  }
  return SliceOf<ConfigRevision>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<int64_t> MemoryStore::RefreshDesiredConfig() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  int64_t changed = 0;
  for (const auto& [tenant, config] : d_.configs) {
    if (config.head == 0) continue;
    const std::vector<ConfigTarget> targets = ConfigTargetsLocked(tenant, /*stale_only=*/true);
    if (targets.empty()) continue;
    ASSIGN_OR_RETURN(ConfigHead head, ReadHeadLocked(tenant, 0));
    ASSIGN_OR_RETURN(std::vector<const core::ParamTarget*> refreshed,
                     StoreDesiredLocked(tenant, head.params, head.meta.revision, targets,
                                        /*all=*/true, /*refuse_oversized=*/false, now));
    changed += static_cast<int64_t>(refreshed.size());
  }
  return changed;
}

absl::StatusOr<std::vector<core::ConfigClaim>> MemoryStore::ClaimUnpublishedConfig(
    size_t limit, absl::Duration lease) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  // The store claims in tenant order; within a tenant its order is its own.
  std::map<std::string, std::vector<core::PendingPublish>> by_tenant;
  std::vector<std::pair<std::string, std::string>> candidates;  // (tenant, terminal)
  for (const auto& [id, tc] : d_.terminal_config) {
    auto t = d_.terminals.find(id);
    if (t == d_.terminals.end() || t->second.t.state == core::TerminalState::kRetired) continue;
    if (tc.published_hash == tc.desired_hash) continue;
    if (tc.claim_until && !(*tc.claim_until < now)) continue;
    candidates.emplace_back(tc.tenant_id, id);
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > limit) candidates.resize(limit);
  for (const auto& [tenant, id] : candidates) {
    TerminalConfigRow& tc = d_.terminal_config.at(id);
    tc.claim_until = now + lease;
    by_tenant[tenant].push_back(core::PendingPublish{core::TargetOf(d_.terminals.at(id).t),
                                                     tc.desired_revision, tc.desired_hash});
  }
  std::vector<core::ConfigClaim> claims;
  for (auto& [tenant, rows] : by_tenant) {
    ASSIGN_OR_RETURN(ConfigHead head, ReadHeadLocked(tenant, 0));
    claims.push_back(core::ConfigClaim{std::move(head), std::move(rows)});
  }
  return claims;
}

absl::Status MemoryStore::FinishConfigClaims(const std::vector<std::string>& claimed,
                                             const std::vector<core::PublishedSet>& published) {
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::string> sent;
  for (const core::PublishedSet& p : published) sent[p.terminal_id] = p.hash;
  for (const std::string& id : claimed) {
    auto tc = d_.terminal_config.find(id);
    if (tc == d_.terminal_config.end()) continue;
    tc->second.claim_until.reset();
    auto hash = sent.find(id);
    if (hash != sent.end() && !hash->second.empty()) {
      tc->second.published_hash = absl::AsciiStrToLower(hash->second);
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::ApplyConfigReports(const std::vector<core::ConfigReportIn>& reports) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  std::map<std::string, const core::ConfigReportIn*> last;  // the last report of a terminal wins
  std::vector<std::string> ids;
  for (const core::ConfigReportIn& r : reports) {
    last[r.terminal_id] = &r;
    ids.push_back(r.terminal_id);
  }
  RefuseInactiveLocked(ids, now);
  for (const auto& [id, r] : last) {
    auto t = d_.terminals.find(id);
    auto tc = d_.terminal_config.find(id);
    if (t == d_.terminals.end() || t->second.t.state != core::TerminalState::kActive ||
        tc == d_.terminal_config.end()) {
      continue;
    }
    TerminalConfigRow& row = tc->second;
    const std::string hash = absl::AsciiStrToLower(r->hash);
    // A report of anything but the desired set means the retained message is not what it
    // should be: the set is published again.
    if (hash != row.desired_hash) row.published_hash.clear();
    row.report_time = now;
    if (r->applied) {
      row.reported_revision = r->revision;
      row.reported_hash = hash;
      if (row.rejected_hash == hash) row.rejected_hash.clear();
    } else {
      row.rejected_hash = hash;
      row.rejected_reason = r->error;
    }
  }
  return absl::OkStatus();
}

core::TerminalConfigStatus MemoryStore::ConfigStatusLocked(const std::string& terminal_id,
                                                           const TerminalConfigRow& row) const {
  const TerminalRow& t = d_.terminals.at(terminal_id);
  core::SyncFacts f;
  f.recompute_due = t.config_epoch > row.computed_epoch;
  core::TerminalConfigStatus s;
  s.terminal_id = terminal_id;
  s.tenant_id = row.tenant_id;
  if (f.recompute_due) {
    s.state = SyncState::kPending;
  } else if (!row.reported_hash.empty() && row.reported_hash == row.desired_hash) {
    s.state = SyncState::kInSync;
  } else if (!row.rejected_hash.empty() && row.rejected_hash == row.desired_hash) {
    s.state = SyncState::kRejected;
  } else {
    s.state = SyncState::kPending;
  }
  s.desired_revision = row.desired_revision;
  s.desired_hash = row.desired_hash;
  s.desired_time = row.desired_time;
  s.reported_revision = row.reported_revision;
  s.reported_hash = row.reported_hash;
  if (row.report_time) s.report_time = *row.report_time;
  s.online = t.t.presence && t.t.presence->online;
  f.rejected_reason = row.rejected_reason;
  f.online = s.online;
  f.terminal_state = t.t.state;
  f.ever_connected = t.t.presence.has_value();
  if (t.t.presence) f.presence_change_time = t.t.presence->change_time;
  f.terminal_change_time = t.t.update_time;
  f.published = row.published_hash == row.desired_hash;
  s.reason = core::SyncReason(s.state, f);
  return s;
}

absl::StatusOr<core::TerminalConfigStatus> MemoryStore::GetTerminalConfig(
    const Scope& scope, absl::string_view terminal_id) {
  absl::MutexLock lock(&mu_);
  auto tc = d_.terminal_config.find(std::string(terminal_id));
  if (tc == d_.terminal_config.end() || !InScope(scope, tc->second.tenant_id)) {
    return absl::NotFoundError(
        absl::StrCat("terminal ", terminal_id, " has no computed configuration yet"));
  }
  return ConfigStatusLocked(tc->first, tc->second);
}

absl::StatusOr<core::Slice<core::TerminalConfigStatus>> MemoryStore::ListConfigDrift(
    const Scope& scope, absl::string_view tenant_id, std::optional<SyncState> state,
    const core::Window& window) {
  if (!InScope(scope, tenant_id)) return TenantNotFound(tenant_id);
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, core::TerminalConfigStatus>> rows;
  for (const auto& [id, tc] : d_.terminal_config) {
    const TerminalRow& t = d_.terminals.at(id);
    if (tc.tenant_id != tenant_id || t.t.state == core::TerminalState::kRetired) continue;
    if (t.seq <= window.after) continue;
    core::TerminalConfigStatus s = ConfigStatusLocked(id, tc);
    if (state ? s.state != *state : s.state == SyncState::kInSync) continue;
    rows.emplace_back(t.seq, std::move(s));
  }
  SortBySeq(rows);
  return SliceOf<core::TerminalConfigStatus>(rows, window, [](const auto& r) { return r.first; });
}

absl::StatusOr<core::ConfigSyncCounts> MemoryStore::CountConfigSync(const Scope& scope,
                                                                    absl::string_view tenant_id) {
  if (!InScope(scope, tenant_id)) return TenantNotFound(tenant_id);
  absl::MutexLock lock(&mu_);
  core::ConfigSyncCounts counts;
  for (const auto& [id, tc] : d_.terminal_config) {
    if (tc.tenant_id != tenant_id) continue;
    if (d_.terminals.at(id).t.state == core::TerminalState::kRetired) continue;
    switch (ConfigStatusLocked(id, tc).state) {
      case SyncState::kInSync:
        ++counts.in_sync;
        break;
      case SyncState::kPending:
        ++counts.pending;
        break;
      case SyncState::kRejected:
        ++counts.rejected;
        break;
    }
  }
  return counts;
}

absl::StatusOr<core::ResealResult> MemoryStore::ResealConfigSecrets(const core::ResealFn& reseal,
                                                                    core::AuditEntry audit) {
  absl::MutexLock lock(&mu_);
  core::ResealResult result;
  // One tenant at a time, as the store's one transaction per tenant: an error keeps what the
  // tenants before it committed and none of its own.
  for (auto& [tenant, config] : d_.configs) {
    std::map<int64_t, std::string> documents = config.documents;
    core::ResealResult here;
    for (auto& [revision, bytes] : documents) {
      absl::StatusOr<int64_t> n = store::ResealConfigDocument(&bytes, reseal);
      if (!n.ok()) {
        return absl::Status(n.status().code(), absl::StrCat("tenant ", tenant, " revision ",
                                                            revision, ": ", n.status().message()));
      }
      if (*n == 0) continue;
      ++here.revisions;
      here.values += *n;
    }
    if (here.values == 0) continue;
    config.documents = std::move(documents);
    core::AuditEntry entry = audit;
    entry.tenant_id = tenant;
    entry.summary = absl::StrCat("resealed ", here.values, " secret value(s) in ", here.revisions,
                                 " revision(s) with the current parameter key");
    AppendLocked(std::move(entry), NowLocked());
    ++result.tenants;
    result.revisions += here.revisions;
    result.values += here.values;
  }
  return result;
}

int64_t MemoryStore::UnpublishedConfigCount() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [id, tc] : d_.terminal_config) n += tc.published_hash != tc.desired_hash;
  return n;
}

int64_t MemoryStore::ClaimedConfigCount() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [id, tc] : d_.terminal_config) n += tc.claim_until.has_value();
  return n;
}

}  // namespace posfleet::testing

// Parameters: revisions, desired state per terminal, publishing and reports (issue 5).

#include <map>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/config_document.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::ConfigCommit;
using core::ConfigHead;
using core::ConfigRevision;
using core::ParamTarget;
using core::Scope;

constexpr char kRevisionColumns[] =
    "revision, schema_version, author, message, summary, restored_from, "
    "terminals_changed, " POSFLEET_US("create_time") ", encode(state, 'base64')";
constexpr int kRevisionStateColumn = 8;  // the document, base64

constexpr char kTenantInScope[] = "SELECT 1 FROM tenants WHERE id = $1";
constexpr char kEnsureHead[] =
    "INSERT INTO config_heads (tenant_id, revision) VALUES ($1, 0) ON CONFLICT DO NOTHING";
constexpr char kLockHead[] = "SELECT revision FROM config_heads WHERE tenant_id = $1 FOR UPDATE";
const std::string kSelectRevision = absl::StrCat(
    "SELECT ", kRevisionColumns, " FROM config_revisions WHERE tenant_id = $1 AND revision = $2");
const std::string kSelectHeadRevision =
    absl::StrCat("SELECT ", kRevisionColumns,
                 " FROM config_revisions WHERE tenant_id = $1 AND revision = "
                 "(SELECT h.revision FROM config_heads h WHERE h.tenant_id = $1)");
const std::string kListRevisions =
    absl::StrCat("SELECT ", kRevisionColumns,
                 " FROM config_revisions WHERE tenant_id = $1 AND ($2 = 0 OR revision < $2) "
                 "ORDER BY revision DESC LIMIT $3");
// The time is taken under the head lock (clock_timestamp, not the transaction's start), and never
// before the previous revision's, so that time order is revision order: a change that waited
// for the lock started earlier than the one it follows.
constexpr char kInsertRevision[] =
    "INSERT INTO config_revisions (tenant_id, revision, schema_version, author, message, summary, "
    "restored_from, terminals_changed, state, create_time) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, decode($9, 'base64'), "
    "GREATEST(clock_timestamp(), (SELECT max(create_time) FROM config_revisions "
    "WHERE tenant_id = $1))) RETURNING " POSFLEET_US("create_time");
constexpr char kUpdateHead[] = "UPDATE config_heads SET revision = $2 WHERE tenant_id = $1";
constexpr char kConfigTenants[] = "SELECT tenant_id FROM config_heads ORDER BY tenant_id";
constexpr char kRevisionNumbers[] =
    "SELECT revision FROM config_revisions WHERE tenant_id = $1 ORDER BY revision";
constexpr char kUpdateRevisionState[] =
    "UPDATE config_revisions SET state = decode($3, 'base64') WHERE tenant_id = $1 AND revision = "
    "$2";

// A terminal (t) whose labels or merchant changed after its desired set (tc) was computed from
// them (migration 000015): what it should have now is not known until it is computed again.
#define POSFLEET_RECOMPUTE_DUE "t.config_epoch > tc.computed_epoch"
// A terminal that has no desired set yet, or must have it computed again.
#define POSFLEET_STALE_TARGET "(tc.terminal_id IS NULL OR " POSFLEET_RECOMPUTE_DUE ")"

// The rows ReadTargets reads, for a tenant's terminals not retired ($1).
#define POSFLEET_SELECT_TARGETS                                             \
  "SELECT t.id, t.merchant_id, " POSFLEET_SELECTOR_LABELS                   \
  "::text, coalesce(encode(tc.desired_hash, 'hex'), ''), "                  \
  "t.config_epoch, coalesce(tc.computed_epoch, -1) "                        \
  "FROM terminals t LEFT JOIN terminal_config tc ON tc.terminal_id = t.id " \
  "WHERE t.tenant_id = $1 AND t.state <> 'retired' "
// Terminals whose desired set is computed: every one not retired.
constexpr char kSelectTargets[] = POSFLEET_SELECT_TARGETS "ORDER BY t.seq";
// Those that appeared or changed since they were last computed.
constexpr char kSelectStaleTargets[] =
    POSFLEET_SELECT_TARGETS "AND " POSFLEET_STALE_TARGET " ORDER BY t.seq";
constexpr char kStaleTenants[] =
    "SELECT DISTINCT t.tenant_id FROM terminals t "
    "JOIN config_heads h ON h.tenant_id = t.tenant_id AND h.revision > 0 "
    "LEFT JOIN terminal_config tc ON tc.terminal_id = t.id "
    "WHERE t.state <> 'retired' AND " POSFLEET_STALE_TARGET;
// Sets computed desired hashes; the revision and time move only when the hash does.
constexpr char kUpsertDesired[] =
    "INSERT INTO terminal_config (terminal_id, tenant_id, desired_revision, desired_hash, "
    "computed_epoch) SELECT x.id, $2, $3, decode(x.hash, 'hex'), x.epoch FROM "
    "unnest($1::text[], $4::text[], $5::bigint[]) AS x(id, hash, epoch) "
    "ON CONFLICT (terminal_id) DO UPDATE SET compute_time = now(), tenant_id = EXCLUDED.tenant_id, "
    "computed_epoch = EXCLUDED.computed_epoch, "
    "desired_revision = CASE WHEN terminal_config.desired_hash = EXCLUDED.desired_hash "
    "  THEN terminal_config.desired_revision ELSE EXCLUDED.desired_revision END, "
    "desired_time = CASE WHEN terminal_config.desired_hash = EXCLUDED.desired_hash "
    "  THEN terminal_config.desired_time ELSE now() END, "
    "desired_hash = EXCLUDED.desired_hash";

// Claims unpublished rows for $2 ms (migration 000016); rows another replica is claiming right
// now are skipped, rows it claimed earlier are left alone until their claim expires.
constexpr char kClaimUnpublished[] =
    "WITH c AS (SELECT tc.terminal_id FROM terminal_config tc "
    "JOIN terminals t ON t.id = tc.terminal_id "
    "WHERE tc.published_hash IS DISTINCT FROM tc.desired_hash AND t.state <> 'retired' "
    "AND (tc.claim_until IS NULL OR tc.claim_until < now()) "
    "ORDER BY tc.tenant_id LIMIT $1 FOR UPDATE OF tc SKIP LOCKED) "
    "UPDATE terminal_config tc SET claim_until = now() + $2::int8 * interval '1 millisecond' "
    "FROM c, terminals t WHERE tc.terminal_id = c.terminal_id AND t.id = tc.terminal_id "
    "RETURNING tc.terminal_id, tc.tenant_id, t.merchant_id, " POSFLEET_SELECTOR_LABELS
    "::text, tc.desired_revision, encode(tc.desired_hash, 'hex')";
// One write per claimed row: the claim goes, and the hash that went out is recorded (an empty
// one: nothing went out, the row stays unpublished).
constexpr char kFinishClaims[] =
    "UPDATE terminal_config tc SET claim_until = NULL, "
    "published_hash = CASE WHEN x.hash = '' THEN tc.published_hash ELSE decode(x.hash, 'hex') END "
    "FROM unnest($1::text[], $2::text[]) AS x(id, hash) WHERE tc.terminal_id = x.id";

// Reports count only from active terminals, as every uplink (RecordRefusedUplinks).
#define POSFLEET_ACTIVE_TERMINAL \
  " AND EXISTS (SELECT 1 FROM terminals t WHERE t.id = tc.terminal_id AND t.state = 'active')"
// A report of anything but the desired set (an older retained message, a replayed or mangled
// one) means the terminal's topic does not hold what it should: the set is published again.
constexpr char kApplyApplied[] =
    "UPDATE terminal_config tc SET reported_revision = x.rev, reported_hash = decode(x.hash, "
    "'hex'), "
    "report_time = now(), "
    "published_hash = CASE WHEN decode(x.hash, 'hex') = tc.desired_hash THEN tc.published_hash "
    "END, "
    "rejected_hash = CASE WHEN tc.rejected_hash = decode(x.hash, 'hex') THEN NULL "
    "ELSE tc.rejected_hash END "
    "FROM unnest($1::text[], $2::text[]::int8[], $3::text[]) AS x(id, rev, hash) "
    "WHERE tc.terminal_id = x.id" POSFLEET_ACTIVE_TERMINAL;
constexpr char kApplyRejected[] =
    "UPDATE terminal_config tc SET rejected_hash = NULLIF(decode(x.hash, 'hex'), ''), "
    "rejected_reason = x.reason, "
    "published_hash = CASE WHEN decode(x.hash, 'hex') = tc.desired_hash THEN tc.published_hash "
    "END, "
    "report_time = now() FROM unnest($1::text[], $2::text[], $3::text[]) AS x(id, hash, reason) "
    "WHERE tc.terminal_id = x.id" POSFLEET_ACTIVE_TERMINAL;

// A terminal changed (relabelled, moved) after its desired set was computed is pending until the
// refresh pass recomputes it: the set it should have now may not be the one it reported. The
// state is computed here because drift filters and counts by it; it comes back by name
// (core::ParseSyncState), and the pending reason is core::SyncReason's, from the facts below.
#define POSFLEET_SYNC_STATE                                                       \
  "(CASE WHEN " POSFLEET_RECOMPUTE_DUE                                            \
  " THEN 'pending' "                                                              \
  "WHEN tc.reported_hash = tc.desired_hash THEN 'in-sync' WHEN tc.rejected_hash " \
  "= tc.desired_hash THEN 'rejected' ELSE 'pending' END)"
// Columns 11..17: the facts of core::SyncFacts; the last column is the keyset position.
constexpr char kTerminalConfigColumns[] =
    "tc.terminal_id, tc.tenant_id, " POSFLEET_SYNC_STATE
    ", tc.desired_revision, encode(tc.desired_hash, 'hex'), " POSFLEET_US(
        "tc.desired_time") ", tc.reported_revision, coalesce(encode(tc.reported_hash, 'hex'), ''), " POSFLEET_US("tc.report_time") ", "
                           "coalesce(tc.rejected_reason, ''), coalesce(s.online, false), t.state, "
                           "s.terminal_id IS NOT NULL, " POSFLEET_US("s.change_time") ", "
                           POSFLEET_RECOMPUTE_DUE ", " POSFLEET_US("t.update_time") ", "
                           "tc.published_hash IS NOT DISTINCT FROM tc.desired_hash, t.seq";
const std::string kSelectTerminalConfig =
    absl::StrCat("SELECT ", kTerminalConfigColumns,
                 " FROM terminal_config tc JOIN terminals t ON t.id = tc.terminal_id "
                 "LEFT JOIN terminal_status s ON s.terminal_id = tc.terminal_id "
                 "WHERE tc.terminal_id = $1 AND ($2 = '' OR tc.tenant_id = $2)");
const std::string kListDrift =
    absl::StrCat("SELECT ", kTerminalConfigColumns,
                 " FROM terminal_config tc JOIN terminals t ON t.id = tc.terminal_id "
                 "LEFT JOIN terminal_status s ON s.terminal_id = tc.terminal_id "
                 "WHERE tc.tenant_id = $1 AND t.state <> 'retired' AND t.seq > $2 "
                 "AND (($3 = '' AND " POSFLEET_SYNC_STATE " <> 'in-sync') OR " POSFLEET_SYNC_STATE
                 " = $3) ORDER BY t.seq LIMIT $4");
const std::string kCountSync =
    absl::StrCat("SELECT count(*) FILTER (WHERE " POSFLEET_SYNC_STATE
                 " = 'in-sync'), count(*) FILTER (WHERE " POSFLEET_SYNC_STATE
                 " = 'pending'), count(*) FILTER (WHERE " POSFLEET_SYNC_STATE
                 " = 'rejected') FROM terminal_config tc JOIN terminals t ON t.id = tc.terminal_id "
                 "WHERE tc.tenant_id = $1 AND t.state <> 'retired'");

struct Target {
  ParamTarget target;
  std::string stored_hash;      // empty: none yet
  int64_t epoch = 0;            // terminals.config_epoch read with the labels
  int64_t computed_epoch = -1;  // the one the stored hash was computed from; -1: none yet
};

ConfigRevision RevisionFromRow(const pqxx::row& r) {
  ConfigRevision m;
  m.revision = r[0].as<int64_t>();
  m.schema_version = r[1].as<int64_t>();
  m.author = r[2].c_str();
  m.message = r[3].c_str();
  m.summary = r[4].c_str();
  m.restored_from = r[5].as<int64_t>();
  m.terminals_changed = r[6].as<int64_t>();
  m.create_time = absl::FromUnixMicros(r[7].as<int64_t>());
  return m;
}

absl::StatusOr<ConfigHead> HeadFromRow(const pqxx::row& r, const std::string& tenant_id) {
  ConfigHead head;
  head.tenant_id = tenant_id;
  head.meta = RevisionFromRow(r);
  std::string bytes;
  if (!absl::Base64Unescape(r[kRevisionStateColumn].c_str(), &bytes)) {
    return absl::DataLossError(absl::StrCat("configuration of tenant ", tenant_id, ": unreadable"));
  }
  ASSIGN_OR_RETURN(head.params, DecodeConfigDocument(bytes, tenant_id));
  return head;
}

// NotFound when `tenant_id` is outside the scope: another tenant's, exactly like a missing one.
absl::Status InScope(const Scope& scope, const std::string& tenant_id) {
  if (!scope.all() && scope.tenant_id != tenant_id) {
    return absl::NotFoundError(absl::StrCat("tenant ", tenant_id, " not found"));
  }
  return absl::OkStatus();
}

// InScope, and the tenant exists.
absl::Status CheckTenant(pqxx::transaction_base& txn, const Scope& scope,
                         const std::string& tenant_id) {
  RETURN_IF_ERROR(InScope(scope, tenant_id));
  if (txn.exec_params(kTenantInScope, tenant_id).empty()) {
    return absl::NotFoundError(absl::StrCat("tenant ", tenant_id, " not found"));
  }
  return absl::OkStatus();
}

// The newest revision (revision 0) or the given one.
absl::StatusOr<ConfigHead> ReadHead(pqxx::transaction_base& txn, const std::string& tenant_id,
                                    int64_t revision) {
  pqxx::result r = revision == 0 ? txn.exec_params(kSelectHeadRevision, tenant_id)
                                 : txn.exec_params(kSelectRevision, tenant_id, revision);
  if (r.empty()) {
    if (revision == 0) return core::EmptyConfigHead(tenant_id);
    return absl::NotFoundError(
        absl::StrCat("tenant ", tenant_id, " has no configuration revision ", revision));
  }
  return HeadFromRow(r[0], tenant_id);
}

std::vector<Target> ReadTargets(pqxx::transaction_base& txn, const char* sql,
                                const std::string& tenant_id) {
  std::vector<Target> out;
  pqxx::result r = txn.exec_params(sql, tenant_id);
  out.reserve(r.size());
  for (const pqxx::row& row : r) {
    out.push_back(
        Target{ParamTarget{row[0].c_str(), row[1].c_str(), LabelsFromJson(row[2].c_str())},
               row[3].c_str(), row[4].as<int64_t>(), row[5].as<int64_t>()});
  }
  return out;
}

// Computes the desired hash of `targets` under `params` and stores it (rows of unchanged
// terminals only when `all`, to record that they were computed). Returns the changed ones; with
// `refuse_oversized` (a change being committed), FailedPrecondition instead if a terminal's set
// would be larger than it takes (core::CheckSetSizes).
absl::StatusOr<std::vector<const ParamTarget*>> StoreDesired(
    pqxx::transaction_base& txn, const std::string& tenant_id, const core::TenantParams& params,
    int64_t revision, const std::vector<Target>& targets, bool all, bool refuse_oversized) {
  std::vector<ParamTarget> plain;
  plain.reserve(targets.size());
  for (const Target& t : targets) plain.push_back(t.target);
  const std::vector<core::DesiredSet> sets = core::DesiredSets(params, plain);
  if (refuse_oversized) RETURN_IF_ERROR(core::CheckSetSizes(params, plain, sets));
  std::vector<std::string> hashes;
  hashes.reserve(sets.size());
  for (const core::DesiredSet& s : sets) hashes.push_back(s.hash);
  std::vector<const ParamTarget*> changed;
  std::vector<std::string> ids;
  std::vector<std::string> write_hashes;
  std::vector<std::string> epochs;
  for (size_t i = 0; i < targets.size(); ++i) {
    const bool differs = hashes[i] != targets[i].stored_hash;
    if (differs) changed.push_back(&targets[i].target);
    // A row computed from older labels is written even when its hash stays: it is now known to
    // be the set the terminal should have.
    if (differs || all || targets[i].epoch != targets[i].computed_epoch) {
      ids.push_back(targets[i].target.id);
      write_hashes.push_back(hashes[i]);
      epochs.push_back(absl::StrCat(targets[i].epoch));
    }
  }
  if (!ids.empty()) {
    txn.exec_params(kUpsertDesired, PgTextArray(ids), tenant_id, revision,
                    PgTextArray(write_hashes), PgTextArray(epochs));
  }
  return changed;
}

// A schema change is any difference in the specs (the serialized form compares every field).
bool SchemaDiffers(const core::TenantParams& a, const core::TenantParams& b) {
  core::TenantParams sa;
  sa.schema = a.schema;
  core::TenantParams sb;
  sb.schema = b.schema;
  return EncodeConfigDocument(sa) != EncodeConfigDocument(sb);
}

core::TerminalConfigStatus StatusFromRow(const pqxx::row& r) {
  core::TerminalConfigStatus s;
  s.terminal_id = r[0].c_str();
  s.tenant_id = r[1].c_str();
  s.state = core::ParseSyncState(r[2].c_str()).value_or(core::SyncState::kPending);
  s.desired_revision = r[3].as<int64_t>();
  s.desired_hash = r[4].c_str();
  s.desired_time = absl::FromUnixMicros(r[5].as<int64_t>());
  s.reported_revision = r[6].as<int64_t>();
  s.reported_hash = r[7].c_str();
  if (!r[8].is_null()) s.report_time = absl::FromUnixMicros(r[8].as<int64_t>());
  s.online = r[10].as<bool>();
  core::SyncFacts f;
  f.rejected_reason = r[9].c_str();
  f.online = s.online;
  f.terminal_state = core::ParseState(r[11].c_str()).value_or(core::TerminalState::kActive);
  f.ever_connected = r[12].as<bool>();
  if (!r[13].is_null()) f.presence_change_time = absl::FromUnixMicros(r[13].as<int64_t>());
  f.recompute_due = r[14].as<bool>();
  f.terminal_change_time = absl::FromUnixMicros(r[15].as<int64_t>());
  f.published = r[16].as<bool>();
  s.reason = core::SyncReason(s.state, f);
  return s;
}

// The first column of `query`'s rows: the tenants a job goes through, one transaction each.
absl::StatusOr<std::vector<std::string>> ReadTenantIds(PgPool& pool, const char* query) {
  return ReadFor<std::vector<std::string>>(pool, [&](pqxx::transaction_base& txn) {
    std::vector<std::string> out;
    for (const pqxx::row& row : txn.exec(query)) out.push_back(row[0].c_str());
    return absl::StatusOr<std::vector<std::string>>(std::move(out));
  });
}

// Marks a dry run's transaction for rollback; never leaves this file.
const absl::Status& DryRunRollback() {
  static const absl::Status* status = new absl::Status(absl::CancelledError("dry run"));
  return *status;
}

}  // namespace

absl::StatusOr<ConfigHead> PgStore::LoadConfig(const Scope& scope, absl::string_view tenant_id,
                                               int64_t revision) {
  const std::string tenant(tenant_id);
  return TransactFor<ConfigHead>(pool_,
                                 [&](pqxx::transaction_base& txn) -> absl::StatusOr<ConfigHead> {
                                   RETURN_IF_ERROR(CheckTenant(txn, scope, tenant));
                                   return ReadHead(txn, tenant, revision);
                                 });
}

absl::StatusOr<ConfigCommit> PgStore::CommitConfig(const Scope& scope, absl::string_view tenant_id,
                                                   const core::ConfigChange& change, bool dry_run,
                                                   size_t sample, core::AuditEntry audit) {
  const std::string tenant(tenant_id);
  std::optional<ConfigCommit> out;
  absl::Status status = pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    RETURN_IF_ERROR(CheckTenant(txn, scope, tenant));
    txn.exec_params(kEnsureHead, tenant);
    const int64_t head = txn.exec_params1(kLockHead, tenant)[0].as<int64_t>();
    ASSIGN_OR_RETURN(ConfigHead before, ReadHead(txn, tenant, head));
    ConfigCommit commit;
    commit.before = std::move(before.params);
    commit.after = commit.before;
    commit.meta.revision = head + 1;
    commit.meta.schema_version = before.meta.schema_version;
    commit.meta.author = absl::StrCat(audit.actor_name, " (", audit.actor_id, ")");
    ASSIGN_OR_RETURN(commit.meta.summary, change(commit.after, commit.meta));
    commit.schema_changed = SchemaDiffers(commit.before, commit.after);
    if (commit.schema_changed) commit.meta.schema_version = commit.meta.revision;

    const std::vector<Target> targets = ReadTargets(txn, kSelectTargets, tenant);
    ASSIGN_OR_RETURN(const std::vector<const ParamTarget*> changed,
                     StoreDesired(txn, tenant, commit.after, commit.meta.revision, targets,
                                  /*all=*/false, /*refuse_oversized=*/true));
    commit.terminals_changed = static_cast<int64_t>(changed.size());
    commit.meta.terminals_changed = commit.terminals_changed;
    for (size_t i = 0; i < changed.size() && i < sample; ++i) commit.sample.push_back(*changed[i]);

    const pqxx::row inserted = txn.exec_params1(
        kInsertRevision, tenant, commit.meta.revision, commit.meta.schema_version,
        commit.meta.author, commit.meta.message, commit.meta.summary, commit.meta.restored_from,
        commit.meta.terminals_changed, absl::Base64Escape(EncodeConfigDocument(commit.after)));
    commit.meta.create_time = absl::FromUnixMicros(inserted[0].as<int64_t>());
    txn.exec_params(kUpdateHead, tenant, commit.meta.revision);
    audit.tenant_id = tenant;
    audit.summary = absl::StrCat("revision ", commit.meta.revision, ": ", commit.meta.summary, " (",
                                 commit.terminals_changed, " terminals changed)");
    InsertAudit(txn, audit);
    out = std::move(commit);
    return dry_run ? DryRunRollback() : absl::OkStatus();
  });
  if (!status.ok() && !(dry_run && status == DryRunRollback())) return status;
  return *std::move(out);
}

absl::StatusOr<core::Slice<ConfigRevision>> PgStore::ListConfigRevisions(
    const Scope& scope, absl::string_view tenant_id, const core::Window& window) {
  const std::string tenant(tenant_id);
  return TransactFor<core::Slice<ConfigRevision>>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<core::Slice<ConfigRevision>> {
        RETURN_IF_ERROR(CheckTenant(txn, scope, tenant));
        pqxx::result r = txn.exec_params(kListRevisions, tenant, window.after, window.limit + 1);
        return SliceFrom<ConfigRevision>(
            r, window.limit, RevisionFromRow,
            +[](const pqxx::row& row) { return row[0].as<int64_t>(); });
      });
}

absl::StatusOr<int64_t> PgStore::RefreshDesiredConfig() {
  ASSIGN_OR_RETURN(std::vector<std::string> tenants, ReadTenantIds(pool_, kStaleTenants));
  int64_t changed = 0;
  for (const std::string& tenant : tenants) {
    absl::Status status = pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
      pqxx::result locked = txn.exec_params(kLockHead, tenant);
      if (locked.empty()) return absl::OkStatus();  // the tenant went away
      ASSIGN_OR_RETURN(ConfigHead head, ReadHead(txn, tenant, locked[0][0].as<int64_t>()));
      const std::vector<Target> targets = ReadTargets(txn, kSelectStaleTargets, tenant);
      // A terminal that grew past the limit by a relabel still gets its row; the publisher does
      // not send a set the terminal would refuse (posfleet_config_publishes_total{too_large}).
      ASSIGN_OR_RETURN(const std::vector<const ParamTarget*> refreshed,
                       StoreDesired(txn, tenant, head.params, head.meta.revision, targets,
                                    /*all=*/true, /*refuse_oversized=*/false));
      changed += static_cast<int64_t>(refreshed.size());
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  return changed;
}

absl::StatusOr<std::vector<core::ConfigClaim>> PgStore::ClaimUnpublishedConfig(
    size_t limit, absl::Duration lease) {
  return TransactFor<std::vector<core::ConfigClaim>>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<core::ConfigClaim>> {
        pqxx::result r = txn.exec_params(kClaimUnpublished, static_cast<int64_t>(limit),
                                         absl::ToInt64Milliseconds(lease));
        std::map<std::string, std::vector<core::PendingPublish>> by_tenant;
        for (const pqxx::row& row : r) {
          core::PendingPublish p;
          p.target = ParamTarget{row[0].c_str(), row[2].c_str(), LabelsFromJson(row[3].c_str())};
          p.desired_revision = row[4].as<int64_t>();
          p.desired_hash = row[5].c_str();
          by_tenant[row[1].c_str()].push_back(std::move(p));
        }
        std::vector<core::ConfigClaim> claims;
        for (auto& [tenant, rows] : by_tenant) {
          ASSIGN_OR_RETURN(ConfigHead head, ReadHead(txn, tenant, 0));
          claims.push_back(core::ConfigClaim{std::move(head), std::move(rows)});
        }
        return claims;
      });
}

absl::Status PgStore::FinishConfigClaims(const std::vector<std::string>& claimed,
                                         const std::vector<core::PublishedSet>& published) {
  if (claimed.empty()) return absl::OkStatus();
  absl::flat_hash_map<absl::string_view, absl::string_view> sent;
  sent.reserve(published.size());
  for (const core::PublishedSet& p : published) sent[p.terminal_id] = p.hash;
  std::vector<std::string> hashes;
  hashes.reserve(claimed.size());
  for (const std::string& id : claimed) {
    auto it = sent.find(id);
    hashes.emplace_back(it == sent.end() ? absl::string_view() : it->second);
  }
  return pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    txn.exec_params(kFinishClaims, PgTextArray(claimed), PgTextArray(hashes));
    return absl::OkStatus();
  });
}

absl::Status PgStore::ApplyConfigReports(const std::vector<core::ConfigReportIn>& reports) {
  // The last report of a terminal wins.
  std::unordered_map<std::string, const core::ConfigReportIn*> last;
  for (const core::ConfigReportIn& r : reports) last[r.terminal_id] = &r;
  std::vector<std::string> a_ids, a_revs, a_hashes, r_ids, r_hashes, r_reasons;
  for (const auto& [id, r] : last) {
    if (r->applied) {
      a_ids.push_back(id);
      a_revs.push_back(absl::StrCat(r->revision));
      a_hashes.push_back(r->hash);
    } else {
      r_ids.push_back(id);
      r_hashes.push_back(r->hash);
      r_reasons.push_back(r->error);
    }
  }
  return pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    std::vector<std::string> all = a_ids;
    all.insert(all.end(), r_ids.begin(), r_ids.end());
    RecordRefusedUplinks(txn, all);
    if (!a_ids.empty()) {
      txn.exec_params(kApplyApplied, PgTextArray(a_ids), PgTextArray(a_revs),
                      PgTextArray(a_hashes));
    }
    if (!r_ids.empty()) {
      txn.exec_params(kApplyRejected, PgTextArray(r_ids), PgTextArray(r_hashes),
                      PgTextArray(r_reasons));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<core::TerminalConfigStatus> PgStore::GetTerminalConfig(
    const Scope& scope, absl::string_view terminal_id) {
  return ReadFor<core::TerminalConfigStatus>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<core::TerminalConfigStatus> {
        pqxx::result r =
            txn.exec_params(kSelectTerminalConfig, std::string(terminal_id), scope.tenant_id);
        if (r.empty()) {
          return absl::NotFoundError(
              absl::StrCat("terminal ", terminal_id, " has no computed configuration yet"));
        }
        return StatusFromRow(r[0]);
      });
}

absl::StatusOr<core::Slice<core::TerminalConfigStatus>> PgStore::ListConfigDrift(
    const Scope& scope, absl::string_view tenant_id, std::optional<core::SyncState> state,
    const core::Window& window) {
  const std::string tenant(tenant_id);
  RETURN_IF_ERROR(InScope(scope, tenant));
  const std::string wanted(state ? core::SyncStateName(*state) : "");
  return ReadFor<core::Slice<core::TerminalConfigStatus>>(
      pool_,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<core::Slice<core::TerminalConfigStatus>> {
        pqxx::result r =
            txn.exec_params(kListDrift, tenant, window.after, wanted, window.limit + 1);
        return SliceFrom<core::TerminalConfigStatus>(r, window.limit, StatusFromRow);
      });
}

absl::StatusOr<core::ConfigSyncCounts> PgStore::CountConfigSync(const Scope& scope,
                                                                absl::string_view tenant_id) {
  const std::string tenant(tenant_id);
  RETURN_IF_ERROR(InScope(scope, tenant));
  return ReadFor<core::ConfigSyncCounts>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<core::ConfigSyncCounts> {
        pqxx::row r = txn.exec_params1(kCountSync, tenant);
        return core::ConfigSyncCounts{r[0].as<int64_t>(), r[1].as<int64_t>(), r[2].as<int64_t>()};
      });
}

absl::StatusOr<core::ResealResult> PgStore::ResealConfigSecrets(const core::ResealFn& reseal,
                                                                core::AuditEntry audit) {
  ASSIGN_OR_RETURN(std::vector<std::string> tenants, ReadTenantIds(pool_, kConfigTenants));
  core::ResealResult result;
  for (const std::string& tenant : tenants) {
    core::ResealResult here;
    absl::Status status = pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
      here = {};
      if (txn.exec_params(kLockHead, tenant).empty()) return absl::OkStatus();
      // One document in memory at a time: a tenant's history can be large.
      for (const pqxx::row& rev : txn.exec_params(kRevisionNumbers, tenant)) {
        const int64_t revision = rev[0].as<int64_t>();
        std::string bytes;
        if (!absl::Base64Unescape(
                txn.exec_params1(kSelectRevision, tenant, revision)[kRevisionStateColumn].c_str(),
                &bytes)) {
          return absl::DataLossError(
              absl::StrCat("tenant ", tenant, " revision ", revision, ": unreadable"));
        }
        absl::StatusOr<int64_t> n = ResealConfigDocument(&bytes, reseal);
        if (!n.ok()) {
          return absl::Status(
              n.status().code(),
              absl::StrCat("tenant ", tenant, " revision ", revision, ": ", n.status().message()));
        }
        if (*n == 0) continue;
        txn.exec_params(kUpdateRevisionState, tenant, revision, absl::Base64Escape(bytes));
        ++here.revisions;
        here.values += *n;
      }
      if (here.values == 0) return absl::OkStatus();
      core::AuditEntry entry = audit;
      entry.tenant_id = tenant;
      entry.summary = absl::StrCat("resealed ", here.values, " secret value(s) in ", here.revisions,
                                   " revision(s) with the current parameter key");
      InsertAudit(txn, entry);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (here.values > 0) ++result.tenants;
    result.revisions += here.revisions;
    result.values += here.values;
  }
  return result;
}

}  // namespace posfleet::store

#pragma once

// Terminal parameters through the API (issue 5): schema, groups and layered values, each change
// a new immutable revision committed with its audit entry and the desired state of every
// terminal it touches; previews (dry runs) that count exactly what the commit would; revisions
// and restore; effective sets, explanations and drift. Secret values are sealed before they
// reach the store and never returned.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/param_spec.h"
#include "common/secret_box.h"
#include "server/core/config.h"
#include "server/core/params.h"
#include "server/core/permissions.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/configuration.h"
#include "server/core/repositories/organisation.h"
#include "server/core/repositories/terminals.h"

namespace posfleet::core {

struct ChangeOptions {
  std::string message;  // why; kept with the revision
  bool dry_run = false;
  size_t sample = 5;  // terminal diffs returned, at most kMaxChangeSample
  // The revision the change was prepared against (a preview's base): if the tenant is at
  // another one, the change is refused (Aborted, naming it) instead of overwriting an edit made
  // in between. 0: no such condition.
  int64_t if_revision = 0;
};
inline constexpr size_t kMaxChangeSample = 100;
inline constexpr size_t kMaxSchemaKeys = 500;
inline constexpr size_t kMaxValuesPerChange = 200;
inline constexpr size_t kMaxConfigMessage = 500;

struct ChangeResult {
  bool dry_run = false;
  ConfigRevision meta;
  int64_t terminals_changed = 0;
  std::vector<TargetChange> sample;  // secrets masked
};

// Values to set (text, checked and made canonical) and keys to unset on one layer; and for list
// keys, items to add and remove (JSON arrays), applied to the layer's value at commit time (the
// schema default if the layer has none), so that edits made at once merge (EditList).
struct ValueChange {
  LayerKind kind = LayerKind::kTenant;
  std::string id;  // group name, merchant id or terminal id; empty for the tenant layer
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
  std::map<std::string, std::string> add;
  std::map<std::string, std::string> remove;
};

// One schema edit. A key appears once across all three.
struct SchemaChange {
  std::vector<ParamSpec> upsert;  // added, or replaced whole, by key
  std::vector<std::string> remove;
  // old key -> new key: the spec and every layer's value (secrets stay sealed) move to the new
  // name, which must not exist yet. Terminals get the value under the new name.
  std::map<std::string, std::string> rename;
};

struct EffectiveConfig {
  ConfigRevision meta;     // the head it was computed at
  std::string hash;        // equals the desired hash once computed
  EffectiveParams params;  // secrets masked
  std::optional<TerminalConfigStatus> status;
};

struct ExplainedKey {
  std::string key;
  std::vector<ExplainStep> steps;
};
struct Explanation {
  ConfigRevision meta;
  std::vector<ExplainedKey> keys;
};

// What revision `revision` changed against revision `base`.
struct RevisionDiff {
  int64_t revision = 0;
  int64_t base = 0;  // 0: the empty configuration before revision 1
  std::vector<ConfigEdit> edits;
};

struct DriftPage {
  Page<TerminalConfigStatus> page;
  ConfigSyncCounts counts;
};

class ConfigRegistry {
 public:
  // `box` seals secret values; without one, setting a secret is refused (FailedPrecondition).
  ConfigRegistry(ConfigRepository& store, OrganisationRepository& org,
                 TerminalRepository& terminals, AuditLog& audit, const SecretBox* box)
      : store_(store), org_(org), terminals_(terminals), audit_(audit), box_(box) {}

  // The head: schema, groups and every layer's values, secrets masked.
  // `method`: kGetConfigLayers or kGetConfigSchema (the same read; the role matrix names both).
  absl::StatusOr<ConfigHead> Layers(const Actor& actor, absl::string_view tenant_id,
                                    Method method = Method::kGetConfigLayers);
  // Renames keys, adds or replaces specs, removes keys. Refused (FailedPrecondition) with every
  // offender listed when a stored value would not fit its new spec, or a removed key still has
  // values. The summary says, per replaced key, what its spec lost or gained.
  absl::StatusOr<ChangeResult> UpdateSchema(const Actor& actor, absl::string_view tenant_id,
                                            const SchemaChange& change,
                                            const ChangeOptions& options);
  // Creates or replaces (by name) a label-selector group; its values are kept.
  absl::StatusOr<ChangeResult> SetGroup(const Actor& actor, absl::string_view tenant_id,
                                        absl::string_view name, absl::string_view selector,
                                        int priority, const ChangeOptions& options);
  absl::StatusOr<ChangeResult> DeleteGroup(const Actor& actor, absl::string_view tenant_id,
                                           absl::string_view name, const ChangeOptions& options);
  absl::StatusOr<ChangeResult> SetValues(const Actor& actor, absl::string_view tenant_id,
                                         const ValueChange& change, const ChangeOptions& options);
  absl::StatusOr<Page<ConfigRevision>> Revisions(const Actor& actor, absl::string_view tenant_id,
                                                 int page_size, absl::string_view page_token);
  // What `revision` (0: the newest) changed against `base` (0: the one before it), secrets
  // masked.
  absl::StatusOr<RevisionDiff> Diff(const Actor& actor, absl::string_view tenant_id,
                                    int64_t revision, int64_t base);
  // A new revision whose configuration equals `revision`'s.
  absl::StatusOr<ChangeResult> Restore(const Actor& actor, absl::string_view tenant_id,
                                       int64_t revision, const ChangeOptions& options);
  absl::StatusOr<EffectiveConfig> Effective(const Actor& actor, absl::string_view terminal_id);
  // Every key set anywhere for the terminal (or only `key`), each with its layers.
  absl::StatusOr<Explanation> Explain(const Actor& actor, absl::string_view terminal_id,
                                      absl::string_view key);
  // Terminals in `state` (nullopt: all not in sync), with the tenant's counts.
  absl::StatusOr<DriftPage> Drift(const Actor& actor, absl::string_view tenant_id,
                                  std::optional<SyncState> state, int page_size,
                                  absl::string_view page_token);

 private:
  absl::StatusOr<Scope> TenantScope(const Actor& actor, absl::string_view tenant_id);
  // Commits `change` with `audit` (the entry the caller records a failure with).
  absl::StatusOr<ChangeResult> Commit(const Actor& actor, const AuditEntry& audit,
                                      absl::string_view tenant_id, const ChangeOptions& options,
                                      const ConfigChange& change);
  // `text` as `layer` stores it under `spec` in `p`: canonical, and for a secret sealed with its
  // digest recorded in `p` (and the tenant's hash key made on first use). A secret set again to
  // the value it has keeps its sealed text, so nothing changes.
  absl::StatusOr<std::string> Stored(TenantParams& p, const ParamLayer& layer,
                                     const ParamSpec& spec, absl::string_view text) const;
  // Records the digest of every sealed value of `p` that has none (stored before digests
  // existed), so that the first change after an upgrade makes its secrets verifiable.
  absl::Status AddMissingDigests(TenantParams& p) const;
  // The tenant whose configuration `change` edits: the merchant's or terminal's own for those
  // layers (NotFound outside the caller's scope), `tenant_id` otherwise.
  absl::StatusOr<std::string> ValueTenant(const Actor& actor, absl::string_view tenant_id,
                                          const ValueChange& change);
  // Applies `change` to its layer of `p`; returns the revision's summary.
  absl::StatusOr<std::string> ApplyValueChange(TenantParams& p, const ValueChange& change) const;
  // Checks every stored value of `p` against its spec after a schema change, rewriting those
  // whose canonical form changed; FailedPrecondition naming each value that no longer fits.
  absl::Status RefitValues(TenantParams& p) const;
  // Seals the canonical secret `value` for `p` and records its digest.
  absl::StatusOr<std::string> SealSecret(TenantParams& p, absl::string_view value) const;

  ConfigRepository& store_;
  OrganisationRepository& org_;
  TerminalRepository& terminals_;
  AuditLog& audit_;
  const SecretBox* box_;
};

}  // namespace posfleet::core

#pragma once

// Terminal parameters (issue 5): values set on layers over a tenant's schema
// (common/param_spec.h), and the resolution of one terminal's effective set with the reason each
// value wins.
//
//   schema default < tenant default < label-selector groups (by priority) < merchant < terminal
//
// Values are kept and compared in canonical text form (CanonicalValue), so "50.0" and "50" are one
// value and a content hash of the effective set changes only when a value really does. Pure: no
// SQL, no protobuf, no I/O.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/param_spec.h"
#include "server/core/label_selector.h"
#include "server/core/types.h"

namespace posfleet::core {

enum class LayerKind { kDefault, kTenant, kGroup, kMerchant, kTerminal };
absl::string_view LayerKindName(LayerKind kind);  // "default", "tenant", "group", ...

// Values set on one layer, by key (canonical values).
struct ParamLayer {
  LayerKind kind = LayerKind::kTenant;
  std::string id;    // tenant, group, merchant or terminal id
  std::string name;  // a group's name, for explanations
  int priority = 0;  // groups: the higher wins
  std::map<std::string, std::string, std::less<>> values;
};

// Groups of one tenant must have distinct priorities: two groups that could both match a
// terminal would otherwise leave the winner to chance. InvalidArgument naming both otherwise.
struct GroupPriority {
  std::string id;
  std::string name;
  int priority = 0;
};
absl::Status CheckGroupPriorities(const std::vector<GroupPriority>& groups);

// One key's value for a terminal and where it came from.
struct EffectiveParam {
  std::string value;
  LayerKind source = LayerKind::kDefault;
  std::string source_id;  // empty for the schema default
};
using EffectiveParams = std::map<std::string, EffectiveParam, std::less<>>;

// Whether selectors may find `key` among a terminal's fields: "vendor" and "model".
bool IsFieldLabel(absl::string_view key);
// The labels a selector (of a group, a list, a watch) sees for `t`: its own, over "vendor" and
// "model" from its fields; a label of that name wins. POSFLEET_SELECTOR_LABELS in SQL.
Labels SelectorLabels(const Terminal& t);

// The effective set of a terminal from the layers that apply to it (its tenant's, the groups
// whose selector matches it, its merchant's, its own; any order, absent ones left out). Keys the
// schema does not have are ignored; keys without a value anywhere and without a default are
// absent.
EffectiveParams Resolve(const ParamSchema& schema, const std::vector<const ParamLayer*>& layers);

// Whether `key` is a secret of `schema` (its value is never shown).
bool IsSecret(const ParamSchema& schema, absl::string_view key);

// What changed from spec `before` to `after` of one key, in words, one item per field:
// "max 10 -> 20", "default \"X\" removed", "pattern added". A secret's default is never shown.
// Empty when they are the same.
std::vector<std::string> SpecChanges(const ParamSpec& before, const ParamSpec& after);

// A spec in one line: "duration, min 5, max 60, default \"30s\"" (a secret's as "string, secret").
std::string SpecText(const ParamSpec& spec);

// What explanations and previews show instead of a secret's value.
inline constexpr absl::string_view kSecretShown = "(secret, set)";
// What a preview shows as a secret's new value when it replaces another.
inline constexpr absl::string_view kSecretChanged = "(secret, changed)";

// Every layer that sets `key` for the terminal, the winner first, each with why it ranks where
// it does ("terminal override: wins over merchant mer_1, tenant default"). A secret's value is
// shown as kSecretShown.
struct ExplainStep {
  LayerKind kind = LayerKind::kDefault;
  std::string id;
  std::string name;
  int priority = 0;
  std::string value;
  bool wins = false;
  std::string why;
};
std::vector<ExplainStep> Explain(const ParamSchema& schema,
                                 const std::vector<const ParamLayer*>& layers,
                                 absl::string_view key);

// A label-selector group of a tenant: its values apply to the terminals its selector matches.
struct ParamGroup {
  std::string selector_text;  // as written
  LabelSelector selector;
  ParamLayer layer;  // kind kGroup; id, name, priority and values
};

// Everything about one tenant's parameters that a recompute needs, read once.
struct TenantParams {
  ParamSchema schema;
  ParamLayer tenant{LayerKind::kTenant, "", "", 0, {}};
  std::vector<ParamGroup> groups;                            // any order
  std::map<std::string, ParamLayer, std::less<>> merchants;  // by merchant id
  std::map<std::string, ParamLayer, std::less<>> terminals;  // overrides, by terminal id
  // The tenant's hash key, sealed (empty until a secret is set), and the SecretDigest of every
  // sealed value in the layers, by that sealed value (common/param_set_hash.h).
  std::string hash_key_sealed;
  std::map<std::string, std::string, std::less<>> secret_digests;
};

// One difference between two configurations of a tenant (what a revision changed).
struct ConfigEdit {
  enum class Part { kSchema, kGroup, kValue };
  Part part = Part::kValue;
  LayerKind kind = LayerKind::kTenant;  // kGroup for a group; kValue: the layer
  std::string id;                       // group name, merchant or terminal id; empty otherwise
  std::string key;                      // kSchema, kValue
  // kSchema: SpecText; kGroup: "priority 10, selector region=north"; kValue: the value, a secret
  // as kSecretShown before and kSecretChanged after (by digest: the same secret sealed again is
  // no edit). Absent: not there on that side.
  std::optional<std::string> before, after;
};
// Every difference from `before` to `after`: schema keys, then groups, then values layer by
// layer (tenant, groups, merchants, terminals), each in key order.
std::vector<ConfigEdit> DiffParams(const TenantParams& before, const TenantParams& after);

// The content hash of an effective set of `tenant` as the terminal receives it: ParamSetHash
// (common/param_set_hash.h) over each key's spec and value, a secret as its digest. Equal sets,
// equal hashes, however the secrets are sealed. A secret without a digest (stored before digests
// existed; `posfleet-server params-reseal` adds them) enters as its sealed text, which no agent
// can match.
std::string ParamsHash(const TenantParams& tenant, const EffectiveParams& params);

// What a recompute needs to know of a terminal.
struct ParamTarget {
  std::string id;
  std::string merchant_id;
  Labels labels;
};
// `t` as the layers see it: its labels as selectors see them (SelectorLabels).
ParamTarget TargetOf(const Terminal& t);

// The layers that apply to `target` (its tenant's, the matching groups', its merchant's, its
// own), for Resolve and Explain.
std::vector<const ParamLayer*> LayersFor(const TenantParams& params, const ParamTarget& target);

// Every target's effective-set hash, in target order: what the terminal should run.
std::vector<std::string> DesiredHashes(const TenantParams& params,
                                       const std::vector<ParamTarget>& targets);
// A target's desired set as a recompute sees it: its hash and SetSizeBound.
struct DesiredSet {
  std::string hash;
  size_t size_bound = 0;
};

// ParamsHash for many sets of one tenant: each spec is encoded once, not once per set (that
// formatting was most of a recompute's cost). `tenant` must outlive it and not change.
class ParamHasher {
 public:
  explicit ParamHasher(const TenantParams& tenant);
  std::string Hash(const EffectiveParams& params) const;
  // The hash and size bound of `target`'s set: Hash(Resolve(...)) and SetSizeBound without
  // building the set (no value is copied), for a recompute over every terminal of a tenant.
  DesiredSet Desired(const ParamTarget& target) const;

 private:
  struct Key {
    const std::string* key;
    std::string encoded;  // EncodeSpecForHash
    const ParamSpec* spec;
    size_t spec_bound;  // SetSizeBound's share of the spec, without the value
  };
  // Hashes the winning value of each schema key (null: the set has no such key).
  std::string HashWinners(const std::vector<const std::string*>& winners) const;

  const TenantParams& tenant_;
  std::vector<Key> keys_;  // the schema's, in its order (which is a set's order too)
  absl::flat_hash_map<absl::string_view, size_t> position_;  // key -> index in keys_
};

// Every target's DesiredSet, in target order (ParamHasher::Desired).
std::vector<DesiredSet> DesiredSets(const TenantParams& params,
                                    const std::vector<ParamTarget>& targets);

// An upper bound of the bytes of `params`'s set as the terminal receives it (the serialized
// ConfigSet: each spec and clear value with its framing), so that a set within
// kMaxConfigSetBytes by this bound is within it on the wire.
size_t SetSizeBound(const TenantParams& tenant, const EffectiveParams& params);

// OK, or FailedPrecondition naming the first target whose set (`sets`, DesiredSets of
// `targets`) would exceed kMaxConfigSetBytes, its size and the layers that contribute most.
absl::Status CheckSetSizes(const TenantParams& params, const std::vector<ParamTarget>& targets,
                           const std::vector<DesiredSet>& sets);

// What a change from `before` to `after` does, before it is committed: how many targets get a
// different effective set, and the key-by-key differences of the first `sample` of them (a
// secret shows only that it changes). A commit computes its publishes with DesiredHashes on
// `after`, so the count is the commit's.
struct ParamDiff {
  std::string key;
  std::optional<std::string> before;  // absent: no value
  std::optional<std::string> after;
};
struct TargetChange {
  std::string terminal_id;
  std::vector<ParamDiff> diffs;
};
struct ParamPreview {
  size_t changed = 0;
  std::vector<TargetChange> sample;
};
ParamPreview PreviewChange(const TenantParams& before, const TenantParams& after,
                           const std::vector<ParamTarget>& targets, size_t sample);

}  // namespace posfleet::core

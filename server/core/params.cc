#include "server/core/params.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/name_table.h"
#include "common/param_set_hash.h"
#include "common/secret_box.h"

namespace posfleet::core {
namespace {

constexpr NameTable<LayerKind, 5> kLayerNames = {{{LayerKind::kDefault, "default"},
                                                  {LayerKind::kTenant, "tenant"},
                                                  {LayerKind::kGroup, "group"},
                                                  {LayerKind::kMerchant, "merchant"},
                                                  {LayerKind::kTerminal, "terminal"}}};

int Rank(LayerKind kind) { return static_cast<int>(kind); }

// Lowest precedence first: default, tenant, groups by priority, merchant, terminal.
std::vector<const ParamLayer*> Ordered(const std::vector<const ParamLayer*>& layers) {
  std::vector<const ParamLayer*> out;
  for (const ParamLayer* l : layers) {
    if (l != nullptr) out.push_back(l);
  }
  std::stable_sort(out.begin(), out.end(), [](const ParamLayer* a, const ParamLayer* b) {
    if (a->kind != b->kind) return Rank(a->kind) < Rank(b->kind);
    return a->priority < b->priority;
  });
  return out;
}

std::string Describe(const ParamLayer& l) {
  switch (l.kind) {
    case LayerKind::kTerminal:
      return "terminal override";
    case LayerKind::kMerchant:
      return absl::StrCat("merchant ", l.id);
    case LayerKind::kGroup:
      return absl::StrCat("group ", l.name.empty() ? l.id : l.name, " (priority ", l.priority, ")");
    case LayerKind::kTenant:
      return "tenant default";
    case LayerKind::kDefault:
      return "schema default";
  }
  return "";
}

}  // namespace

bool IsSecret(const ParamSchema& schema, absl::string_view key) {
  auto it = schema.find(key);
  return it != schema.end() && it->second.secret;
}

absl::string_view LayerKindName(LayerKind kind) { return NameIn(kLayerNames, kind).value_or("?"); }
absl::Status CheckGroupPriorities(const std::vector<GroupPriority>& groups) {
  std::map<int, const GroupPriority*> by_priority;
  for (const GroupPriority& g : groups) {
    auto [it, inserted] = by_priority.emplace(g.priority, &g);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "priority: groups \"", it->second->name, "\" and \"", g.name, "\" both have priority ",
          g.priority, "; a terminal in both would get either value, so priorities must differ"));
    }
  }
  return absl::OkStatus();
}

EffectiveParams Resolve(const ParamSchema& schema, const std::vector<const ParamLayer*>& layers) {
  EffectiveParams out;
  for (const auto& [key, spec] : schema) {
    if (spec.default_value) out[key] = EffectiveParam{*spec.default_value, LayerKind::kDefault, ""};
  }
  for (const ParamLayer* layer : Ordered(layers)) {
    for (const auto& [key, value] : layer->values) {
      if (schema.find(key) == schema.end()) continue;
      out[key] = EffectiveParam{value, layer->kind, layer->id};
    }
  }
  return out;
}

std::string ParamsHash(const TenantParams& tenant, const EffectiveParams& params) {
  return ParamHasher(tenant).Hash(params);
}

namespace {
size_t SpecBound(const ParamSpec& spec);
size_t ClearSizeBound(const ParamSpec& spec, absl::string_view stored);
// A protobuf field's framing: tag and length, at most this many bytes for our sizes.
constexpr size_t kFieldOverhead = 6;
// SetSizeBound's share of the set's own fields: terminal id, revision, hash, schema version,
// time and the hash key, with their framing.
constexpr size_t kSetBound = 256;
}  // namespace

ParamHasher::ParamHasher(const TenantParams& tenant) : tenant_(tenant) {
  keys_.reserve(tenant.schema.size());
  position_.reserve(tenant.schema.size());
  for (const auto& [key, spec] : tenant.schema) {
    position_[key] = keys_.size();
    keys_.push_back(
        Key{&key, EncodeSpecForHash(spec), &spec, SpecBound(spec) + 3 * kFieldOverhead});
  }
}

std::string ParamHasher::HashWinners(const std::vector<const std::string*>& winners) const {
  std::vector<HashedParam> hashed;
  hashed.reserve(winners.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (winners[i] == nullptr) continue;
    absl::string_view value = *winners[i];
    if (keys_[i].spec->secret) {
      auto digest = tenant_.secret_digests.find(value);
      if (digest != tenant_.secret_digests.end()) value = digest->second;
    }
    hashed.push_back(HashedParam{keys_[i].encoded, value});
  }
  return ParamSetHash(hashed);
}

DesiredSet ParamHasher::Desired(const ParamTarget& target) const {
  // Resolve's rule on positions: the default, then every layer from the lowest precedence up.
  std::vector<const std::string*> winners(keys_.size(), nullptr);
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].spec->default_value) winners[i] = &*keys_[i].spec->default_value;
  }
  for (const ParamLayer* layer : Ordered(LayersFor(tenant_, target))) {
    for (const auto& [key, value] : layer->values) {
      auto at = position_.find(key);
      if (at != position_.end()) winners[at->second] = &value;
    }
  }
  size_t bound = kSetBound;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (winners[i] != nullptr)
      bound += keys_[i].spec_bound + ClearSizeBound(*keys_[i].spec, *winners[i]);
  }
  return DesiredSet{HashWinners(winners), bound};
}

std::string ParamHasher::Hash(const EffectiveParams& params) const {
  std::vector<const std::string*> winners(keys_.size(), nullptr);
  // Both are in key order and a set's keys are the schema's (Resolve), so one pass pairs them
  // with no lookup.
  auto k = keys_.begin();
  for (const auto& [key, p] : params) {
    while (k != keys_.end() && *k->key < key) ++k;
    if (k == keys_.end() || *k->key != key) {
      // Only a set that Resolve did not make over this schema gets here: a caller's bug.
      throw std::out_of_range(absl::StrCat("parameter set key ", key, " is not in the schema"));
    }
    winners[static_cast<size_t>(k - keys_.begin())] = &p.value;
  }
  return HashWinners(winners);
}

std::vector<ExplainStep> Explain(const ParamSchema& schema,
                                 const std::vector<const ParamLayer*>& layers,
                                 absl::string_view key) {
  std::vector<ExplainStep> steps;
  auto spec = schema.find(key);
  if (spec == schema.end()) return steps;
  if (spec->second.default_value) {
    steps.push_back(
        ExplainStep{LayerKind::kDefault, "", "", 0, *spec->second.default_value, false, ""});
  }
  for (const ParamLayer* layer : Ordered(layers)) {
    auto v = layer->values.find(key);
    if (v == layer->values.end()) continue;
    steps.push_back(ExplainStep{layer->kind, layer->id, layer->name, layer->priority,
                                spec->second.secret ? std::string(kSecretShown) : v->second, false,
                                ""});
  }
  std::reverse(steps.begin(), steps.end());  // the winner first
  auto describe = [](const ExplainStep& s) {
    return Describe(ParamLayer{s.kind, s.id, s.name, s.priority, {}});
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    ExplainStep& s = steps[i];
    s.wins = i == 0;
    if (!s.wins) {
      s.why = absl::StrCat(describe(s), ": overridden by ", describe(steps[0]));
    } else if (steps.size() == 1) {
      s.why = s.kind == LayerKind::kDefault
                  ? "schema default: no layer sets the key"
                  : absl::StrCat(describe(s), ": the only layer that sets it");
    } else {
      std::vector<std::string> beaten;
      for (size_t j = 1; j < steps.size(); ++j) beaten.push_back(describe(steps[j]));
      s.why = absl::StrCat(describe(s), ": wins over ", absl::StrJoin(beaten, ", "));
    }
  }
  return steps;
}

std::vector<const ParamLayer*> LayersFor(const TenantParams& params, const ParamTarget& target) {
  std::vector<const ParamLayer*> layers = {&params.tenant};
  for (const ParamGroup& g : params.groups) {
    if (Matches(g.selector, target.labels)) layers.push_back(&g.layer);
  }
  if (auto m = params.merchants.find(target.merchant_id); m != params.merchants.end()) {
    layers.push_back(&m->second);
  }
  if (auto t = params.terminals.find(target.id); t != params.terminals.end()) {
    layers.push_back(&t->second);
  }
  return layers;
}

std::vector<std::string> DesiredHashes(const TenantParams& params,
                                       const std::vector<ParamTarget>& targets) {
  std::vector<std::string> out;
  out.reserve(targets.size());
  const ParamHasher hasher(params);
  for (const ParamTarget& t : targets) out.push_back(hasher.Desired(t).hash);
  return out;
}

namespace {

size_t SpecBound(const ParamSpec& spec) {
  size_t n = 8 * kFieldOverhead + 3 * 9;  // the scalar fields: type, bounds, lengths, secrecy
  n += spec.key.size() + spec.pattern.size() + spec.description.size() + 2 * kFieldOverhead;
  if (spec.default_value) n += spec.default_value->size() + kFieldOverhead;
  for (const std::string& a : spec.allowed) n += a.size() + kFieldOverhead;
  return n;
}

// A sealed value ("enc1:" and base64 of a 12-byte nonce, the text and a 16-byte tag) is longer
// than its text: this bounds the text from it.
size_t ClearSizeBound(const ParamSpec& spec, absl::string_view stored) {
  if (!spec.secret || stored.size() < kSealedPrefix.size()) return stored.size();
  return (stored.size() - kSealedPrefix.size()) * 3 / 4;
}

}  // namespace

size_t SetSizeBound(const TenantParams& tenant, const EffectiveParams& params) {
  size_t n = kSetBound;
  for (const auto& [key, p] : params) {
    const ParamSpec& spec = tenant.schema.at(key);
    n += SpecBound(spec) + ClearSizeBound(spec, p.value) + 3 * kFieldOverhead;
  }
  return n;
}

std::vector<DesiredSet> DesiredSets(const TenantParams& params,
                                    const std::vector<ParamTarget>& targets) {
  std::vector<DesiredSet> out;
  out.reserve(targets.size());
  const ParamHasher hasher(params);
  for (const ParamTarget& t : targets) out.push_back(hasher.Desired(t));
  return out;
}

absl::Status CheckSetSizes(const TenantParams& params, const std::vector<ParamTarget>& targets,
                           const std::vector<DesiredSet>& sets) {
  for (size_t i = 0; i < targets.size() && i < sets.size(); ++i) {
    if (sets[i].size_bound <= kMaxConfigSetBytes) continue;
    const ParamTarget& t = targets[i];
    const size_t size = sets[i].size_bound;
    const EffectiveParams set = Resolve(params.schema, LayersFor(params, t));
    // Which layers the bytes come from: the layer of each winning value (the schema's for specs
    // and defaults).
    std::map<std::string, size_t> by_layer;
    for (const auto& [key, p] : set) {
      const ParamSpec& spec = params.schema.at(key);
      const std::string layer =
          p.source == LayerKind::kDefault
              ? "schema defaults"
              : (p.source == LayerKind::kTenant
                     ? std::string("tenant")
                     : absl::StrCat(LayerKindName(p.source), " ", p.source_id));
      by_layer[layer] += ClearSizeBound(spec, p.value);
      by_layer["schema specs"] += SpecBound(spec);
    }
    std::vector<std::pair<size_t, std::string>> ranked;
    for (const auto& [layer, bytes] : by_layer) ranked.emplace_back(bytes, layer);
    std::sort(ranked.rbegin(), ranked.rend());
    std::vector<std::string> parts;
    for (size_t i = 0; i < ranked.size() && i < 4; ++i) {
      parts.push_back(absl::StrCat(ranked[i].second, " ", ranked[i].first, " bytes"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("terminal ", t.id, " would get a parameter set of about ", size, " bytes (",
                     set.size(), " parameters), more than the ", kMaxConfigSetBytes,
                     " a terminal takes; most of it from: ", absl::StrJoin(parts, ", ")));
  }
  return absl::OkStatus();
}

ParamPreview PreviewChange(const TenantParams& before, const TenantParams& after,
                           const std::vector<ParamTarget>& targets, size_t sample) {
  ParamPreview preview;
  const ParamHasher hash_before(before);
  const ParamHasher hash_after(after);
  for (const ParamTarget& t : targets) {
    if (hash_before.Desired(t).hash == hash_after.Desired(t).hash) continue;
    ++preview.changed;
    if (preview.sample.size() >= sample) continue;
    const EffectiveParams a = Resolve(before.schema, LayersFor(before, t));
    const EffectiveParams b = Resolve(after.schema, LayersFor(after, t));
    TargetChange change{t.id, {}};
    std::set<std::string> keys;
    for (const auto& [k, v] : a) keys.insert(k);
    for (const auto& [k, v] : b) keys.insert(k);
    for (const std::string& k : keys) {
      auto x = a.find(k);
      auto y = b.find(k);
      std::optional<std::string> old_value, new_value;
      if (x != a.end()) old_value = x->second.value;
      if (y != b.end()) new_value = y->second.value;
      if (IsSecret(after.schema, k) || IsSecret(before.schema, k)) {
        // A secret compares by its digest (the same secret sealed again is no change), and shows
        // only that it changes, never what it was or becomes.
        auto digest = [](const TenantParams& t, std::optional<std::string>& v) {
          if (!v) return;
          auto d = t.secret_digests.find(*v);
          if (d != t.secret_digests.end()) v = d->second;
        };
        digest(before, old_value);
        digest(after, new_value);
        if (old_value == new_value) continue;
        if (old_value && new_value) {
          old_value = std::string(kSecretShown);
          new_value = std::string(kSecretChanged);
        } else {
          if (old_value) old_value = std::string(kSecretShown);
          if (new_value) new_value = std::string(kSecretShown);
        }
      } else if (old_value == new_value) {
        continue;
      }
      change.diffs.push_back(ParamDiff{k, old_value, new_value});
    }
    preview.sample.push_back(std::move(change));
  }
  return preview;
}

bool IsFieldLabel(absl::string_view key) { return key == "vendor" || key == "model"; }

Labels SelectorLabels(const Terminal& t) {
  Labels out = t.labels;
  out.try_emplace("vendor", t.vendor);
  out.try_emplace("model", t.model);
  return out;
}

ParamTarget TargetOf(const Terminal& t) { return {t.id, t.merchant_id, SelectorLabels(t)}; }

}  // namespace posfleet::core

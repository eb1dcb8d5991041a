// What changed between two configurations, in words: per spec (SpecChanges, SpecText) and per
// schema entry, group and layer value (DiffParams), secrets shown only as set or changed.

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/secret_box.h"
#include "server/core/params.h"

namespace posfleet::core {

std::vector<std::string> SpecChanges(const ParamSpec& before, const ParamSpec& after) {
  std::vector<std::string> out;
  auto number = [](const std::optional<double>& v) {
    return v ? absl::StrCat(*v) : std::string("none");
  };
  auto bound = [&](absl::string_view name, const std::optional<double>& b,
                   const std::optional<double>& a) {
    if (b == a) return;
    if (!a) {
      out.push_back(absl::StrCat(name, " ", *b, " removed"));
    } else {
      out.push_back(absl::StrCat(name, " ", number(b), " -> ", *a));
    }
  };
  auto size = [&](absl::string_view name, size_t b, size_t a) {
    if (b == a) return;
    if (a == 0) {
      out.push_back(absl::StrCat(name, " ", b, " removed"));
    } else {
      out.push_back(
          absl::StrCat(name, " ", b == 0 ? std::string("none") : absl::StrCat(b), " -> ", a));
    }
  };
  if (before.type != after.type) {
    out.push_back(
        absl::StrCat("type ", ParamTypeName(before.type), " -> ", ParamTypeName(after.type)));
  }
  bound("min", before.min, after.min);
  bound("max", before.max, after.max);
  size("max-length", before.max_length, after.max_length);
  size("max-items", before.max_items, after.max_items);
  if (before.pattern != after.pattern) {
    out.push_back(before.pattern.empty()  ? "pattern added"
                  : after.pattern.empty() ? "pattern removed"
                                          : "pattern changed");
  }
  if (before.allowed != after.allowed) {
    out.push_back(after.allowed.empty()
                      ? std::string("allowed values removed")
                      : absl::StrCat("allowed values ", absl::StrJoin(after.allowed, "|")));
  }
  if (before.default_value != after.default_value) {
    const bool secret = before.secret || after.secret;
    if (!after.default_value) {
      out.push_back(secret ? std::string("default removed")
                           : absl::StrCat("default \"", *before.default_value, "\" removed"));
    } else if (secret) {
      out.push_back(before.default_value ? "default changed" : "default added");
    } else {
      out.push_back(absl::StrCat("default ",
                                 before.default_value
                                     ? absl::StrCat("\"", *before.default_value, "\"")
                                     : std::string("none"),
                                 " -> \"", *after.default_value, "\""));
    }
  }
  if (before.description != after.description) {
    out.push_back(after.description.empty() ? "description removed" : "description changed");
  }
  if (before.secret != after.secret)
    out.push_back(after.secret ? "now secret" : "no longer secret");
  return out;
}

std::string SpecText(const ParamSpec& spec) {
  std::vector<std::string> parts{std::string(ParamTypeName(spec.type))};
  if (spec.min) parts.push_back(absl::StrCat("min ", *spec.min));
  if (spec.max) parts.push_back(absl::StrCat("max ", *spec.max));
  if (spec.max_length > 0) parts.push_back(absl::StrCat("max-length ", spec.max_length));
  if (spec.max_items > 0) parts.push_back(absl::StrCat("max-items ", spec.max_items));
  if (!spec.pattern.empty()) parts.push_back(absl::StrCat("pattern ", spec.pattern));
  if (!spec.allowed.empty()) {
    parts.push_back(absl::StrCat("one of ", absl::StrJoin(spec.allowed, "|")));
  }
  if (spec.default_value && !spec.secret) {
    parts.push_back(absl::StrCat("default \"", *spec.default_value, "\""));
  }
  if (spec.secret) parts.push_back("secret");
  return absl::StrJoin(parts, ", ");
}

namespace {

std::optional<std::string> Find(const std::map<std::string, std::string, std::less<>>& values,
                                absl::string_view key) {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

// The keys of two maps, each once, in order.
template <typename A, typename B>
std::set<std::string, std::less<>> KeysOf(const A& a, const B& b) {
  std::set<std::string, std::less<>> keys;
  for (const auto& [k, v] : a) keys.emplace(k);
  for (const auto& [k, v] : b) keys.emplace(k);
  return keys;
}

std::string GroupText(const ParamGroup& g) {
  return absl::StrCat("priority ", g.layer.priority, ", selector ", g.selector_text);
}

// The value edits of one layer, present on either side (nullptr: absent there).
void DiffLayer(const TenantParams& before, const TenantParams& after, const ParamLayer* b,
               const ParamLayer* a, LayerKind kind, const std::string& id,
               std::vector<ConfigEdit>& out) {
  static const std::map<std::string, std::string, std::less<>> kNone;
  const auto& bv = b ? b->values : kNone;
  const auto& av = a ? a->values : kNone;
  for (const std::string& key : KeysOf(bv, av)) {
    std::optional<std::string> was = Find(bv, key), now = Find(av, key);
    if (was == now) continue;
    const bool secret = IsSecret(before.schema, key) || IsSecret(after.schema, key) ||
                        (was && IsSealed(*was)) || (now && IsSealed(*now));
    if (secret) {
      if (was && now) {
        auto db = before.secret_digests.find(*was);
        auto da = after.secret_digests.find(*now);
        if (db != before.secret_digests.end() && da != after.secret_digests.end() &&
            db->second == da->second) {
          continue;  // the same secret, sealed again
        }
      }
      if (was) was = std::string(kSecretShown);
      if (now) now = std::string(was ? kSecretChanged : kSecretShown);
    }
    out.push_back(
        ConfigEdit{ConfigEdit::Part::kValue, kind, id, key, std::move(was), std::move(now)});
  }
}

const ParamLayer* LayerOf(const ParamLayer& l) { return &l; }
const ParamLayer* LayerOf(const ParamLayer* l) { return l; }

template <typename Map>
void DiffLayerMaps(const TenantParams& before, const TenantParams& after, const Map& b,
                   const Map& a, LayerKind kind, std::vector<ConfigEdit>& out) {
  for (const std::string& id : KeysOf(b, a)) {
    auto bi = b.find(id);
    auto ai = a.find(id);
    DiffLayer(before, after, bi == b.end() ? nullptr : LayerOf(bi->second),
              ai == a.end() ? nullptr : LayerOf(ai->second), kind, id, out);
  }
}

}  // namespace

std::vector<ConfigEdit> DiffParams(const TenantParams& before, const TenantParams& after) {
  std::vector<ConfigEdit> out;
  for (const std::string& key : KeysOf(before.schema, after.schema)) {
    auto b = before.schema.find(key);
    auto a = after.schema.find(key);
    std::optional<std::string> was, now;
    if (b != before.schema.end()) was = SpecText(b->second);
    if (a != after.schema.end()) now = SpecText(a->second);
    if (b != before.schema.end() && a != after.schema.end() &&
        SpecChanges(b->second, a->second).empty()) {
      continue;
    }
    out.push_back(ConfigEdit{ConfigEdit::Part::kSchema, LayerKind::kDefault, "", key,
                             std::move(was), std::move(now)});
  }
  std::map<std::string, const ParamGroup*> bg, ag;
  for (const ParamGroup& g : before.groups) bg[g.layer.id] = &g;
  for (const ParamGroup& g : after.groups) ag[g.layer.id] = &g;
  std::map<std::string, const ParamLayer*> bl, al;  // the groups' layers, for their values
  for (const std::string& name : KeysOf(bg, ag)) {
    std::optional<std::string> was, now;
    if (auto g = bg.find(name); g != bg.end()) {
      was = GroupText(*g->second);
      bl[name] = &g->second->layer;
    }
    if (auto g = ag.find(name); g != ag.end()) {
      now = GroupText(*g->second);
      al[name] = &g->second->layer;
    }
    if (was != now) {
      out.push_back(ConfigEdit{ConfigEdit::Part::kGroup, LayerKind::kGroup, name, "",
                               std::move(was), std::move(now)});
    }
  }
  DiffLayer(before, after, &before.tenant, &after.tenant, LayerKind::kTenant, "", out);
  DiffLayerMaps(before, after, bl, al, LayerKind::kGroup, out);
  DiffLayerMaps(before, after, before.merchants, after.merchants, LayerKind::kMerchant, out);
  DiffLayerMaps(before, after, before.terminals, after.terminals, LayerKind::kTerminal, out);
  return out;
}

}  // namespace posfleet::core

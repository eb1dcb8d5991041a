#include "server/core/params.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/name_table.h"
#include "common/pan.h"

namespace posfleet::core {
namespace {

constexpr NameTable<ParamType, 7> kTypeNames = {{{ParamType::kString, "string"},
                                                 {ParamType::kInteger, "integer"},
                                                 {ParamType::kDecimal, "decimal"},
                                                 {ParamType::kBoolean, "boolean"},
                                                 {ParamType::kEnum, "enum"},
                                                 {ParamType::kDuration, "duration"},
                                                 {ParamType::kList, "list"}}};

constexpr NameTable<LayerKind, 5> kLayerNames = {{{LayerKind::kDefault, "default"},
                                                  {LayerKind::kTenant, "tenant"},
                                                  {LayerKind::kGroup, "group"},
                                                  {LayerKind::kMerchant, "merchant"},
                                                  {LayerKind::kTerminal, "terminal"}}};

absl::Status Bad(absl::string_view key, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", message));
}

// Printable text without control characters (tabs and newlines included: values end up in
// terminal configuration files and receipts, one line each).
bool PlainText(absl::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrCat(v);
}

absl::Status CheckRange(const ParamSpec& spec, double v, absl::string_view unit = "") {
  if (spec.min && v < *spec.min) {
    return Bad(spec.key, absl::StrCat("must be at least ", FormatNumber(*spec.min), unit));
  }
  if (spec.max && v > *spec.max) {
    return Bad(spec.key, absl::StrCat("must be at most ", FormatNumber(*spec.max), unit));
  }
  return absl::OkStatus();
}

// A text value (a string, or one list item) against length, pattern and allowed values. `what`
// names it in messages ("value", "item 3").
absl::Status CheckText(const ParamSpec& spec, absl::string_view text, absl::string_view what) {
  const size_t limit = spec.max_length > 0 ? spec.max_length : kMaxValueLength;
  if (text.size() > limit) {
    return Bad(spec.key, absl::StrCat(what, " is longer than ", limit, " characters"));
  }
  if (!PlainText(text)) return Bad(spec.key, absl::StrCat(what, " has control characters"));
  if (!spec.secret && ContainsPan(text)) {
    return Bad(spec.key, absl::StrCat(what, " looks like a card number; never store one"));
  }
  if (!spec.pattern.empty()) {
    RE2 re(spec.pattern, RE2::Quiet);
    if (!RE2::FullMatch(re2::StringPiece(text.data(), text.size()), re)) {
      return Bad(spec.key, spec.secret
                               ? absl::StrCat(what, " does not match the pattern")
                               : absl::StrCat(what, " \"", text, "\" does not match the pattern ",
                                              spec.pattern));
    }
  }
  if (!spec.allowed.empty() &&
      std::find(spec.allowed.begin(), spec.allowed.end(), text) == spec.allowed.end()) {
    return Bad(spec.key, absl::StrCat(what, " \"", text, "\" is not one of ",
                                      absl::StrJoin(spec.allowed, ", ")));
  }
  return absl::OkStatus();
}

// "-12", "0.5", "12.50": canonical without a plus sign, leading zeros or trailing fraction zeros.
std::optional<std::string> CanonicalDecimal(absl::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  absl::string_view whole = text.substr(0, dot);
  absl::string_view frac = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || (dot != absl::string_view::npos && frac.empty())) return std::nullopt;
  auto digits = [](absl::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
  };
  if (!digits(whole) || !digits(frac) || whole.size() + frac.size() > 18) return std::nullopt;
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  std::string out = absl::StrCat(negative ? "-" : "", whole, frac.empty() ? "" : ".", frac);
  if (out == "-0") out = "0";
  return out;
}

int Rank(LayerKind kind) { return static_cast<int>(kind); }

bool IsSecret(const ParamSchema& schema, absl::string_view key) {
  auto it = schema.find(key);
  return it != schema.end() && it->second.secret;
}

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

absl::string_view ParamTypeName(ParamType type) { return NameIn(kTypeNames, type).value_or("?"); }
std::optional<ParamType> ParseParamType(absl::string_view name) {
  return ValueIn(kTypeNames, name);
}
absl::string_view LayerKindName(LayerKind kind) { return NameIn(kLayerNames, kind).value_or("?"); }

absl::Status ValidateParamKey(absl::string_view key) {
  static const LazyRE2 kKey = {R"([a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*)"};
  if (key.empty()) return absl::InvalidArgumentError("key: is required");
  if (key.size() > kMaxParamKeyLength ||
      !RE2::FullMatch(re2::StringPiece(key.data(), key.size()), *kKey)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key: \"", key.substr(0, kMaxParamKeyLength),
                     "\" must be lower-case words of letters, digits and _ joined by dots, at "
                     "most ",
                     kMaxParamKeyLength, " characters (\"receipt.merchant_name\")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateParamSpec(const ParamSpec& spec) {
  if (absl::Status s = ValidateParamKey(spec.key); !s.ok()) return s;
  const ParamType t = spec.type;
  const bool numeric =
      t == ParamType::kInteger || t == ParamType::kDecimal || t == ParamType::kDuration;
  if ((spec.min || spec.max) && !numeric) {
    return Bad(spec.key, absl::StrCat("min and max apply to integer, decimal and duration, not ",
                                      ParamTypeName(t)));
  }
  for (const auto& bound : {spec.min, spec.max}) {
    if (bound && !std::isfinite(*bound)) return Bad(spec.key, "min and max must be finite");
  }
  if (spec.min && spec.max && *spec.min > *spec.max) {
    return Bad(spec.key, "min is greater than max");
  }
  if (t == ParamType::kDuration && spec.min && *spec.min < 0) {
    return Bad(spec.key, "a duration's min cannot be negative");
  }
  if (spec.max_length > 0 && t != ParamType::kString && t != ParamType::kList) {
    return Bad(spec.key, "max_length applies to string and list");
  }
  if (spec.max_length > kMaxValueLength) {
    return Bad(spec.key, absl::StrCat("max_length is at most ", kMaxValueLength));
  }
  if (spec.max_items > 0 && t != ParamType::kList)
    return Bad(spec.key, "max_items applies to list");
  if (spec.max_items > kMaxListItems) {
    return Bad(spec.key, absl::StrCat("max_items is at most ", kMaxListItems));
  }
  if (!spec.pattern.empty()) {
    if (t != ParamType::kString && t != ParamType::kList) {
      return Bad(spec.key, "pattern applies to string and list");
    }
    if (spec.pattern.size() > kMaxPatternLength) {
      return Bad(spec.key, absl::StrCat("pattern is longer than ", kMaxPatternLength));
    }
    RE2 re(spec.pattern, RE2::Quiet);
    if (!re.ok()) return Bad(spec.key, absl::StrCat("pattern does not compile: ", re.error()));
  }
  if (t == ParamType::kEnum && spec.allowed.empty()) {
    return Bad(spec.key, "an enum needs its allowed values");
  }
  if (!spec.allowed.empty()) {
    if (t != ParamType::kEnum && t != ParamType::kList) {
      return Bad(spec.key, "allowed values apply to enum and list");
    }
    if (spec.allowed.size() > kMaxEnumValues) {
      return Bad(spec.key, absl::StrCat("at most ", kMaxEnumValues, " allowed values"));
    }
    std::set<absl::string_view> seen;
    for (const std::string& v : spec.allowed) {
      if (v.empty() || v.size() > 128 || !PlainText(v) || ContainsPan(v)) {
        return Bad(spec.key, "allowed values are 1 to 128 printable characters");
      }
      if (!seen.insert(v).second) return Bad(spec.key, absl::StrCat("\"", v, "\" allowed twice"));
    }
  }
  if (spec.secret && t != ParamType::kString) return Bad(spec.key, "only strings can be secret");
  if (spec.secret && spec.default_value) {
    return Bad(spec.key, "a secret has no default (it would be stored in the clear)");
  }
  if (spec.description.size() > kMaxParamDescription || !PlainText(spec.description) ||
      ContainsPan(spec.description)) {
    return Bad(spec.key, absl::StrCat("description: at most ", kMaxParamDescription,
                                      " printable characters"));
  }
  if (spec.default_value) {
    absl::StatusOr<std::string> v = CanonicalValue(spec, *spec.default_value);
    if (!v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("default: ", v.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CanonicalValue(const ParamSpec& spec, absl::string_view text) {
  switch (spec.type) {
    case ParamType::kString:
      if (absl::Status s = CheckText(spec, text, "value"); !s.ok()) return s;
      return std::string(text);
    case ParamType::kInteger: {
      int64_t v = 0;
      const bool digits =
          !text.empty() && std::all_of(text.begin() + (text[0] == '-'), text.end(),
                                       [](char c) { return absl::ascii_isdigit(c); });
      if (!digits || !absl::SimpleAtoi(text, &v)) {
        return Bad(spec.key, absl::StrCat("\"", text.substr(0, 32), "\" is not an integer"));
      }
      if (absl::Status s = CheckRange(spec, static_cast<double>(v)); !s.ok()) return s;
      return absl::StrCat(v);
    }
    case ParamType::kDecimal: {
      std::optional<std::string> c = CanonicalDecimal(text);
      double v = 0;
      if (!c || !absl::SimpleAtod(*c, &v)) {
        return Bad(spec.key, absl::StrCat("\"", text.substr(0, 32),
                                          "\" is not a decimal number (\"12.50\")"));
      }
      if (absl::Status s = CheckRange(spec, v); !s.ok()) return s;
      return *c;
    }
    case ParamType::kBoolean:
      if (text == "true" || text == "false") return std::string(text);
      return Bad(spec.key, absl::StrCat("\"", text.substr(0, 32), "\" is not true or false"));
    case ParamType::kEnum:
      if (std::find(spec.allowed.begin(), spec.allowed.end(), text) != spec.allowed.end()) {
        return std::string(text);
      }
      return Bad(spec.key, absl::StrCat("\"", text.substr(0, 64), "\" is not one of ",
                                        absl::StrJoin(spec.allowed, ", ")));
    case ParamType::kDuration: {
      absl::Duration d;
      if (text.empty() || !absl::ParseDuration(std::string(text), &d) ||
          d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
        return Bad(spec.key, absl::StrCat("\"", text.substr(0, 32),
                                          "\" is not a duration (\"90s\", \"1h30m\", \"250ms\")"));
      }
      if (d < absl::ZeroDuration()) return Bad(spec.key, "a duration cannot be negative");
      if (absl::Status s = CheckRange(spec, absl::ToDoubleSeconds(d), " s"); !s.ok()) return s;
      return absl::FormatDuration(d);
    }
    case ParamType::kList: {
      nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                               /*allow_exceptions=*/false);
      if (!j.is_array()) {
        return Bad(spec.key, "a list is a JSON array of strings ([\"EUR\",\"USD\"])");
      }
      const size_t limit = spec.max_items > 0 ? spec.max_items : kMaxListItems;
      if (j.size() > limit) return Bad(spec.key, absl::StrCat("more than ", limit, " items"));
      std::vector<std::string> items;
      for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string()) {
          return Bad(spec.key, absl::StrCat("item ", i + 1, " is not a string"));
        }
        items.push_back(j[i].get<std::string>());
        if (absl::Status s = CheckText(spec, items.back(), absl::StrCat("item ", i + 1)); !s.ok()) {
          return s;
        }
      }
      return nlohmann::json(items).dump();
    }
  }
  return Bad(spec.key, "unknown type");
}

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

std::string ParamsHash(const EffectiveParams& params) {
  std::string text;
  for (const auto& [key, p] : params) {
    // Length-prefixed, so no value can imitate a key boundary.
    absl::StrAppend(&text, key.size(), ":", key, "=", p.value.size(), ":", p.value, "\n");
  }
  return Sha256Hex(text);
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
  for (const ParamTarget& t : targets) {
    out.push_back(ParamsHash(Resolve(params.schema, LayersFor(params, t))));
  }
  return out;
}

ParamPreview PreviewChange(const TenantParams& before, const TenantParams& after,
                           const std::vector<ParamTarget>& targets, size_t sample) {
  ParamPreview preview;
  for (const ParamTarget& t : targets) {
    const EffectiveParams a = Resolve(before.schema, LayersFor(before, t));
    const EffectiveParams b = Resolve(after.schema, LayersFor(after, t));
    if (ParamsHash(a) == ParamsHash(b)) continue;
    ++preview.changed;
    if (preview.sample.size() >= sample) continue;
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
      if (old_value == new_value) continue;
      if (IsSecret(after.schema, k) || IsSecret(before.schema, k)) {
        // That it changes, never what it was or becomes.
        if (old_value) old_value = std::string(kSecretShown);
        if (new_value) new_value = std::string(kSecretShown);
      }
      change.diffs.push_back(ParamDiff{k, old_value, new_value});
    }
    preview.sample.push_back(std::move(change));
  }
  return preview;
}

}  // namespace posfleet::core

#include "common/param_spec.h"

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
#include "common/name_table.h"
#include "common/pan.h"
#include "common/status_macros.h"

namespace posfleet {
namespace {

constexpr NameTable<ParamType, 7> kTypeNames = {{{ParamType::kString, "string"},
                                                 {ParamType::kInteger, "integer"},
                                                 {ParamType::kDecimal, "decimal"},
                                                 {ParamType::kBoolean, "boolean"},
                                                 {ParamType::kEnum, "enum"},
                                                 {ParamType::kDuration, "duration"},
                                                 {ParamType::kList, "list"}}};

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
  if (ContainsPan(text)) {  // a secret too: a card number is never stored, sealed or not
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

}  // namespace

absl::string_view ParamTypeName(ParamType type) { return NameIn(kTypeNames, type).value_or("?"); }
std::optional<ParamType> ParseParamType(absl::string_view name) {
  return ValueIn(kTypeNames, name);
}

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

absl::StatusOr<std::string> EditList(const ParamSpec& spec, absl::string_view current,
                                     absl::string_view add, absl::string_view remove) {
  if (spec.type != ParamType::kList) {
    return Bad(spec.key, "items can be added or removed only on a list");
  }
  auto items = [&spec](absl::string_view text) -> absl::StatusOr<std::vector<std::string>> {
    if (text.empty()) return std::vector<std::string>{};
    ASSIGN_OR_RETURN(std::string canonical, CanonicalValue(spec, text));
    return nlohmann::json::parse(canonical).get<std::vector<std::string>>();
  };
  ASSIGN_OR_RETURN(std::vector<std::string> out, items(current));
  ASSIGN_OR_RETURN(std::vector<std::string> added, items(add));
  ASSIGN_OR_RETURN(std::vector<std::string> removed, items(remove));
  for (const std::string& item : added) {
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  for (const std::string& item : removed) {
    out.erase(std::remove(out.begin(), out.end(), item), out.end());
  }
  return CanonicalValue(spec, nlohmann::json(out).dump());
}

}  // namespace posfleet

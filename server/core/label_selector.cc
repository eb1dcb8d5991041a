#include "server/core/label_selector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/pan.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

absl::Status Bad(absl::string_view requirement, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("label_selector: \"", Redact(requirement, 100), "\": ", why));
}

// Splits on commas that are not inside parentheses.
absl::StatusOr<std::vector<absl::string_view>> SplitTop(absl::string_view text) {
  std::vector<absl::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (depth < 0 || depth > 1) return Bad(text, "unbalanced parentheses");
    if (text[i] == ',' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return Bad(text, "unbalanced parentheses");
  parts.push_back(text.substr(start));
  return parts;
}

absl::Status CheckValue(absl::string_view requirement, absl::string_view value) {
  Labels probe{{"k", std::string(value)}};
  if (!ValidateLabels("v", probe).ok()) {
    return Bad(requirement, "values must be 0-63 characters of A-Z a-z 0-9 . _ -");
  }
  return absl::OkStatus();
}

absl::StatusOr<LabelRequirement> ParseSetRequirement(absl::string_view req, absl::string_view key,
                                                     LabelRequirement::Op op,
                                                     absl::string_view rest) {
  rest = absl::StripAsciiWhitespace(rest);
  if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
    return Bad(req, "expected a list in parentheses, e.g. model in (A920,A80)");
  }
  LabelRequirement r{std::string(key), op, {}};
  for (absl::string_view v : absl::StrSplit(rest.substr(1, rest.size() - 2), ',')) {
    v = absl::StripAsciiWhitespace(v);
    if (v.empty()) return Bad(req, "empty value in list");
    if (auto s = CheckValue(req, v); !s.ok()) return s;
    r.values.emplace_back(v);
  }
  std::sort(r.values.begin(), r.values.end());
  r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
  return r;
}

absl::StatusOr<LabelRequirement> ParseRequirement(absl::string_view req) {
  req = absl::StripAsciiWhitespace(req);
  if (req.empty()) return Bad(req, "empty requirement");
  auto check_key = [&](absl::string_view key) -> absl::Status {
    if (!ValidateLabelKey("k", key).ok()) {
      return Bad(req, "label keys are 1-63 characters of A-Z a-z 0-9 . _ - /");
    }
    return absl::OkStatus();
  };

  if (req.front() == '!' && req.find_first_of("=(") == absl::string_view::npos) {
    absl::string_view key = absl::StripAsciiWhitespace(req.substr(1));
    if (auto s = check_key(key); !s.ok()) return s;
    return LabelRequirement{std::string(key), LabelRequirement::Op::kNotExists, {}};
  }
  for (auto [token, op] : {std::pair{absl::string_view("!="), LabelRequirement::Op::kNotIn},
                           std::pair{absl::string_view("=="), LabelRequirement::Op::kIn},
                           std::pair{absl::string_view("="), LabelRequirement::Op::kIn}}) {
    const size_t pos = req.find(token);
    if (pos == absl::string_view::npos) continue;
    absl::string_view key = absl::StripAsciiWhitespace(req.substr(0, pos));
    absl::string_view value = absl::StripAsciiWhitespace(req.substr(pos + token.size()));
    if (auto s = check_key(key); !s.ok()) return s;
    if (auto s = CheckValue(req, value); !s.ok()) return s;
    return LabelRequirement{std::string(key), op, {std::string(value)}};
  }
  // "key in (...)", "key notin (...)" or a bare "key".
  const size_t space = req.find_first_of(" \t(");
  absl::string_view key = req.substr(0, space);
  if (auto s = check_key(key); !s.ok()) return s;
  if (space == absl::string_view::npos) {
    return LabelRequirement{std::string(key), LabelRequirement::Op::kExists, {}};
  }
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(req.substr(space));
  if (absl::ConsumePrefix(&rest, "notin")) {
    return ParseSetRequirement(req, key, LabelRequirement::Op::kNotIn, rest);
  }
  if (absl::ConsumePrefix(&rest, "in")) {
    return ParseSetRequirement(req, key, LabelRequirement::Op::kIn, rest);
  }
  return Bad(req, "expected key=value, key!=value, key in (...), key notin (...), key or !key");
}

}  // namespace

absl::StatusOr<LabelSelector> ParseLabelSelector(absl::string_view text) {
  LabelSelector selector;
  if (absl::StripAsciiWhitespace(text).empty()) return selector;
  if (text.size() > 4096) return Bad(text, "selector longer than 4096 characters");
  auto parts = SplitTop(text);
  if (!parts.ok()) return parts.status();
  // Each requirement is a condition in the query, each listed value a comparison: a selector is
  // kept small enough that its cost is bounded whatever the caller writes.
  if (parts->size() > kMaxSelectorRequirements) {
    return Bad(text, absl::StrCat("at most ", kMaxSelectorRequirements, " requirements"));
  }
  size_t values = 0;
  for (absl::string_view part : *parts) {
    auto req = ParseRequirement(part);
    if (!req.ok()) return req.status();
    values += req->values.size();
    if (values > kMaxSelectorValues) {
      return Bad(text, absl::StrCat("at most ", kMaxSelectorValues, " values in all"));
    }
    selector.push_back(*std::move(req));
  }
  return selector;
}

bool Matches(const LabelSelector& selector, const Labels& labels) {
  for (const LabelRequirement& r : selector) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in =
        has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case LabelRequirement::Op::kIn:
        if (!in) return false;
        break;
      case LabelRequirement::Op::kNotIn:
        if (in) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

absl::string_view OpName(LabelRequirement::Op op) {
  switch (op) {
    case LabelRequirement::Op::kIn:
      return "in";
    case LabelRequirement::Op::kNotIn:
      return "notin";
    case LabelRequirement::Op::kExists:
      return "exists";
    case LabelRequirement::Op::kNotExists:
      return "notexists";
  }
  return "in";
}

}  // namespace posfleet::core

#pragma once

// Kubernetes-style label selectors, the way operators already think about fleets:
//   region=north            region==north        env!=lab (also matches terminals without env)
//   model in (A920,A80)     model notin (S300)   pilot (has the key)      !test (lacks the key)
// Requirements are separated by commas outside parentheses and must all hold.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/types.h"

namespace posfleet::core {

struct LabelRequirement {
  enum class Op { kIn, kNotIn, kExists, kNotExists };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;  // for kIn / kNotIn

  bool operator==(const LabelRequirement&) const = default;
};

using LabelSelector = std::vector<LabelRequirement>;

// What one selector may hold (besides 4,096 characters): it bounds the query it becomes.
inline constexpr size_t kMaxSelectorRequirements = 16;
inline constexpr size_t kMaxSelectorValues = 256;

// Parses `text`; an empty text selects everything. InvalidArgument("label_selector: ...") names
// the offending requirement.
absl::StatusOr<LabelSelector> ParseLabelSelector(absl::string_view text);

// True if `labels` satisfy every requirement (the reference semantics the SQL must match).
bool Matches(const LabelSelector& selector, const Labels& labels);

absl::string_view OpName(LabelRequirement::Op op);  // "in", "notin", "exists", "notexists"

}  // namespace posfleet::core

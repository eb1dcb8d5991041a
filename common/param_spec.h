#pragma once

// Terminal parameter specs (issue 5), shared by the server (schema writes, values on layers) and
// the agent (it checks the set it receives against the schema sent with it): the types, their
// constraints, and the canonical text form of a value. Pure: no SQL, no protobuf, no I/O.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace posfleet {

enum class ParamType { kString, kInteger, kDecimal, kBoolean, kEnum, kDuration, kList };
absl::string_view ParamTypeName(ParamType type);  // "string", "integer", ...
std::optional<ParamType> ParseParamType(absl::string_view name);

struct ParamSpec {
  std::string key;  // "host.primary", "receipt.merchant_name": lower case, dots between words
  ParamType type = ParamType::kString;
  // integer and decimal: the value; duration: seconds. Not for the other types.
  std::optional<double> min;
  std::optional<double> max;
  // string: characters at most; list: characters per item. 0: kMaxValueLength.
  size_t max_length = 0;
  size_t max_items = 0;  // list only; 0: kMaxListItems
  // string and list items: an RE2 expression the whole value must match (linear time, so a
  // pattern from the API cannot stall the server).
  std::string pattern;
  // enum: the allowed values (required); list: when set, every item must be one of them.
  std::vector<std::string> allowed;
  std::optional<std::string> default_value;  // canonical
  std::string description;
  // Encrypted at rest, never returned by list or get (shown as set or unset). Strings only.
  bool secret = false;
};

inline constexpr size_t kMaxParamKeyLength = 64;
inline constexpr size_t kMaxValueLength = 1024;
inline constexpr size_t kMaxListItems = 256;
inline constexpr size_t kMaxEnumValues = 256;
inline constexpr size_t kMaxPatternLength = 256;
inline constexpr size_t kMaxParamDescription = 500;
// The largest parameter set a terminal takes (its serialized down/config payload): the server
// refuses a change that would give a terminal a larger one, the agent refuses a larger payload.
// Below the broker's packet limit (262,144 bytes), and far below what the agent's local API
// carries (4 MiB), so the payment app can always read the set in force.
inline constexpr size_t kMaxConfigSetBytes = 192 << 10;

// InvalidArgument naming the key and the problem, or OK. A spec's default must satisfy it.
absl::Status ValidateParamKey(absl::string_view key);
absl::Status ValidateParamSpec(const ParamSpec& spec);

// Parses `text` as a value of `spec` and checks every constraint: the canonical form (integers
// without leading zeros, decimals without trailing zeros, durations as "1h30m", booleans "true" or
// "false", lists as a compact JSON array of strings) or InvalidArgument("KEY: ..."). A value that
// holds a card number is refused, a secret's too (sealed is still stored), and the message never
// echoes the value of a secret.
absl::StatusOr<std::string> CanonicalValue(const ParamSpec& spec, absl::string_view text);

// A list value edited item by item, so that edits made at once merge: `current` (canonical, or
// empty for no value) with the items of `add` (a JSON array) appended where absent and those of
// `remove` taken out, checked and canonical as CanonicalValue. InvalidArgument if `spec` is not
// a list.
absl::StatusOr<std::string> EditList(const ParamSpec& spec, absl::string_view current,
                                     absl::string_view add, absl::string_view remove);

// A tenant's schema, by key.
using ParamSchema = std::map<std::string, ParamSpec, std::less<>>;

}  // namespace posfleet

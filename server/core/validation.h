#pragma once

// Validation of everything a caller can send. Each check returns InvalidArgument naming the field
// ("terminal.serial: ..."), so API callers and CSV importers learn exactly what to fix.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/core/types.h"

namespace posfleet::core {

struct FieldError {
  std::string field;
  std::string message;
};

// Returns the first problem with `spec`, or nullopt. Field names are relative ("serial").
std::optional<FieldError> CheckTerminalSpec(const TerminalSpec& spec);

// Turns a FieldError into InvalidArgument("<prefix><field>: <message>").
absl::Status ToStatus(const FieldError& error, absl::string_view prefix = "");

absl::Status ValidateLabelKey(absl::string_view field, absl::string_view key);
absl::Status ValidateLabels(absl::string_view field, const Labels& labels);
absl::Status ValidateMerchant(const Merchant& merchant);
absl::Status ValidateTenantName(absl::string_view name);
absl::Status ValidateTokenName(absl::string_view name);
absl::Status ValidateTid(absl::string_view field, absl::string_view tid);
absl::Status ValidateCountry(absl::string_view field, absl::string_view country);
// Free text kept in the audit log (reasons): at most 500 printable characters, no card number.
absl::Status ValidateReason(absl::string_view field, absl::string_view reason);

// Server-issued ids look like "<prefix>_<20 base32 chars>". Empty -> "is required".
absl::Status ValidateId(absl::string_view field, absl::string_view id, absl::string_view prefix);

inline constexpr int kMaxLabels = 32;
inline constexpr int kMaxBatch = 10000;

}  // namespace posfleet::core

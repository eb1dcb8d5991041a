#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace posfleet::core {

// Pages are keyset pages over a monotonically increasing row sequence, so rows inserted while a
// client pages through appear at the end and never shift or repeat earlier pages. A token binds to
// the filter it was issued for: reusing it with other filters is InvalidArgument, not a silent
// wrong answer.

// Page size: 0 means the default (100); negative or above 1000 is InvalidArgument.
absl::StatusOr<int> NormalizePageSize(int requested);

std::string EncodePageToken(int64_t after, absl::string_view filter);

// Returns the position to continue after, 0 for an empty token.
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view filter);

}  // namespace posfleet::core

#include "server/core/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"

namespace posfleet::core {

absl::StatusOr<int> NormalizePageSize(int requested) {
  if (requested == 0) return 100;
  if (requested < 0 || requested > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 1 and 1000");
  }
  return requested;
}

std::string EncodePageToken(int64_t after, absl::string_view filter) {
  return absl::WebSafeBase64Escape(absl::StrCat("v1:", after, ":", Fingerprint64(filter)));
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view filter) {
  if (token.empty()) return 0;
  std::string raw;
  const absl::Status bad = absl::InvalidArgumentError("page_token: not a token from this listing");
  if (token.size() > 200 || !absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<absl::string_view> parts = absl::StrSplit(raw, ':');
  int64_t after = 0;
  uint64_t fingerprint = 0;
  if (parts.size() != 3 || parts[0] != "v1" || !absl::SimpleAtoi(parts[1], &after) ||
      !absl::SimpleAtoi(parts[2], &fingerprint) || after < 0) {
    return bad;
  }
  if (fingerprint != Fingerprint64(filter)) {
    return absl::InvalidArgumentError(
        "page_token: issued for different filters; repeat the same filters or start over");
  }
  return after;
}

}  // namespace posfleet::core

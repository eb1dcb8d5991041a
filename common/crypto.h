#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace posfleet {

// Lowercase hex SHA-256 of `data`. API token secrets carry 260 bits of entropy, so a fast hash is
// the right tool for storing them (a slow password hash buys nothing).
std::string Sha256Hex(absl::string_view data);
// Lowercase hex HMAC-SHA256 of `data` under `key`: for short secrets (activation codes) whose
// stored form must not be guessable from a database copy alone.
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);
// True if `text` has the form Sha256Hex returns: 64 lowercase hex digits.
bool IsSha256Hex(absl::string_view text);

// 64-bit FNV-1a: a stable, non-cryptographic fingerprint (page tokens bind to their filters with
// it; the same value on every replica and release).
uint64_t Fingerprint64(absl::string_view data);

}  // namespace posfleet

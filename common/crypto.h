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

// Incremental SHA-256, for what is hashed as it streams (software images, chunk by chunk).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(absl::string_view data);
  // The 32-byte digest of everything given; the object is spent after.
  std::string Finish();
  // The 32-byte digest of `data`.
  static std::string Of(absl::string_view data);

 private:
  void* ctx_;  // EVP_MD_CTX
};
// Lowercase hex of raw bytes.
std::string HexOf(absl::string_view bytes);

// 64-bit FNV-1a: a stable, non-cryptographic fingerprint (page tokens bind to their filters with
// it; the same value on every replica and release).
uint64_t Fingerprint64(absl::string_view data);

}  // namespace posfleet

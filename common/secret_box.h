#pragma once

// Encryption at rest for secret parameter values (issue 5): AES-256-GCM with a random 96-bit
// nonce per value, through OpenSSL's EVP interface. A sealed value is text, "enc1:" followed by
// the standard base64 of nonce | ciphertext | tag, so it fits a text column and a
// protobuf string. The key identifier is not stored: a box seals with its current key and opens
// with the current key or any retired one (GCM's tag tells which key fits), which is how a key is
// rotated (docs/parameters.md, `posfleet-server params-reseal`).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace posfleet {

inline constexpr absl::string_view kSealedPrefix = "enc1:";

class SecretBox {
 public:
  // `key` is 32 raw bytes.
  static absl::StatusOr<SecretBox> FromKey(absl::string_view key);
  // Reads a key file: 64 hex digits (and optional white space). InvalidArgument naming the
  // file otherwise; the key itself is never echoed.
  static absl::StatusOr<SecretBox> FromFile(const std::string& path);

  // A key this box still opens with but no longer seals with (`path` read as FromFile).
  absl::Status AddRetiredKeyFile(const std::string& path);
  size_t retired_keys() const { return keys_.size() - 1; }

  // Seals with the current key.
  std::string Seal(absl::string_view plaintext) const;
  // InvalidArgument if `sealed` is not a value sealed by any of this box's keys (tampered, or a
  // key it does not have).
  absl::StatusOr<std::string> Open(absl::string_view sealed) const;
  // True if `sealed` opens with the current key (nothing to reseal).
  bool SealedWithCurrentKey(absl::string_view sealed) const;
  // Key rotation: `sealed` as it is if the current key opens it, else the same secret opened
  // with a retired key and sealed with the current one. InvalidArgument as Open.
  absl::StatusOr<std::string> Reseal(absl::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : keys_{std::move(key)} {}
  std::vector<std::string> keys_;  // [0]: current; then retired ones
};

bool IsSealed(absl::string_view value);

// A 256-bit key from a file of 64 hex digits (white space allowed): its 32 raw bytes.
// InvalidArgument naming the file otherwise; the key itself is never echoed.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

}  // namespace posfleet

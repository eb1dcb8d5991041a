#pragma once

// Encryption at rest for secret parameter values (issue 5): AES-256-GCM with a random 96-bit
// nonce per value, through OpenSSL's EVP interface. A sealed value is text, "enc1:" followed by
// the standard base64 of nonce | ciphertext | tag, so it fits a text column and a
// protobuf string. The key identifier is not stored: one key per deployment (--params-key-file);
// rotating it is future work (docs/parameters.md).

#include <string>

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

  std::string Seal(absl::string_view plaintext) const;
  // InvalidArgument if `sealed` is not a value sealed by this key (tampered, or another key).
  absl::StatusOr<std::string> Open(absl::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

bool IsSealed(absl::string_view value);

}  // namespace posfleet

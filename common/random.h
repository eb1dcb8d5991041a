#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace posfleet {

// Identifiers and secrets from the operating system's CSPRNG (OpenSSL RAND_bytes).

// Returns `prefix` + "_" + 20 lowercase base32 characters (100 bits), e.g. "trm_k3...". Safe to use
// as an MQTT topic segment and as a certificate CN.
std::string NewId(absl::string_view prefix);

// Returns `prefix` + "_" + 52 base32 characters (260 bits): an API token secret.
std::string NewSecret(absl::string_view prefix);

}  // namespace posfleet

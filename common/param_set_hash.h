#pragma once

// The content hash of a terminal's parameter set, as the terminal receives it (issue 16): the
// server computes it for the set it wants a terminal to run, the agent recomputes it over the set
// it received and refuses one that does not match. It covers, per key in order, the spec the
// terminal validates against (a new maximum is a new set) and the value; never how a value is
// stored, so resealing secrets under a new key changes no hash.
//
// A secret enters not as itself but as HMAC-SHA256 under the tenant's hash key (SecretDigest):
// the hash is shown to operators and stored in the database, and a plain digest of a short
// secret could be searched offline. The key is random per tenant, kept sealed by the server, and
// sent to a terminal only with a set that holds secrets.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/param_spec.h"

namespace posfleet {

// What a spec contributes to ParamSetHash: its key and every field the terminal checks, each
// length-prefixed. Encoding it is most of the cost of hashing a set (numbers are formatted), so a
// caller that hashes many sets under one schema encodes each spec once.
std::string EncodeSpecForHash(const ParamSpec& spec);

struct HashedParam {
  absl::string_view spec;  // EncodeSpecForHash of the key's spec
  // The canonical value; for a secret, its SecretDigest instead.
  absl::string_view value;
};

// Lowercase hex SHA-256 over `params`, which must be in key order with each key once.
std::string ParamSetHash(const std::vector<HashedParam>& params);

// What a secret's value contributes to ParamSetHash: lowercase hex HMAC-SHA256 of the canonical
// value under `hash_key` (the tenant's key, 64 hex digits).
std::string SecretDigest(absl::string_view hash_key, absl::string_view value);

// A new tenant hash key: 64 lowercase hex digits from the system's CSPRNG.
std::string NewHashKey();

}  // namespace posfleet

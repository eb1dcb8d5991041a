#pragma once

// Detached signatures with keys that never touch the server: ECDSA P-256 with SHA-256 (the
// default) and Ed25519, on OpenSSL. The release trust rules (common/release_trust.h) build on
// these; key files are PKCS#8 PEM, public keys SubjectPublicKeyInfo DER.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace posfleet::signing {

enum class Scheme { kEcdsaP256Sha256, kEd25519 };
absl::string_view SchemeName(Scheme scheme);  // "ecdsa-p256", "ed25519"

struct PublicKey {
  Scheme scheme = Scheme::kEcdsaP256Sha256;
  std::string spki_der;
};

// A new private key of `scheme`, as PKCS#8 PEM (unencrypted: keep the file offline).
absl::StatusOr<std::string> NewKey(Scheme scheme);
// The public half of a PEM private key; InvalidArgument if it is not one, or of another kind
// than the two schemes (an EC key on another curve, RSA).
absl::StatusOr<PublicKey> PublicKeyOf(absl::string_view private_pem);
// Lowercase hex SHA-256 of the key's SubjectPublicKeyInfo: how documents name a key.
std::string KeyId(const PublicKey& key);
// OK if `key.spki_der` is exactly the DER encoding of a key of `key.scheme` (no other encoding of
// the same key, no trailing bytes), so that one key has exactly one id.
absl::Status CheckPublicKey(const PublicKey& key);

// A public key as a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo), and back: how key holders
// hand their public halves to whoever assembles a root.
std::string PublicKeyPem(const PublicKey& key);
absl::StatusOr<PublicKey> PublicKeyFromPem(absl::string_view pem);

absl::StatusOr<std::string> Sign(absl::string_view private_pem, absl::string_view data);
// True only if `signature` is one by `key` over `data` under the key's scheme (a key whose DER
// is of another kind than its scheme says never verifies).
bool Verify(const PublicKey& key, absl::string_view data, absl::string_view signature);

}  // namespace posfleet::signing

#include "common/signing.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/openssl_ptr.h"

namespace posfleet::signing {
namespace {

using ossl::Bio;
using ossl::Key;
using ossl::KeyCtx;
using ossl::MdCtx;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Key ReadPrivate(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

// The scheme of `key`, if it is one of ours.
std::optional<Scheme> SchemeOf(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) return Scheme::kEd25519;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return std::nullopt;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) return std::nullopt;
  if (absl::string_view(group, len) != "prime256v1") return std::nullopt;
  return Scheme::kEcdsaP256Sha256;
}

// The digest the scheme signs with: SHA-256 for ECDSA, none (the whole message) for Ed25519.
const EVP_MD* DigestOf(Scheme scheme) {
  return scheme == Scheme::kEd25519 ? nullptr : EVP_sha256();
}

}  // namespace

absl::string_view SchemeName(Scheme scheme) {
  return scheme == Scheme::kEd25519 ? "ed25519" : "ecdsa-p256";
}

absl::StatusOr<std::string> NewKey(Scheme scheme) {
  KeyCtx ctx(scheme == Scheme::kEd25519 ? EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr)
                                        : EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (scheme == Scheme::kEcdsaP256Sha256 &&
       EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1) ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    ERR_clear_error();
    return absl::InternalError("key generation failed");
  }
  Key key(raw);
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    ERR_clear_error();
    return absl::InternalError("key encoding failed");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

namespace {

// The public half of `key` as we name it, if it is of one of the two schemes.
absl::StatusOr<PublicKey> PublicHalf(EVP_PKEY* key) {
  std::optional<Scheme> scheme = SchemeOf(key);
  if (!scheme) {
    return absl::InvalidArgumentError("the key is neither ECDSA P-256 nor Ed25519");
  }
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    ERR_clear_error();
    return absl::InternalError("public key encoding failed");
  }
  PublicKey out{*scheme, std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len))};
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::StatusOr<PublicKey> PublicKeyOf(absl::string_view private_pem) {
  Key key = ReadPrivate(private_pem);
  if (!key) return absl::InvalidArgumentError("not a PEM private key");
  return PublicHalf(key.get());
}

std::string KeyId(const PublicKey& key) { return Sha256Hex(key.spki_der); }

namespace {

// The key `der` encodes, if it is exactly one key's DER and nothing more.
Key ParsePublic(absl::string_view der) {
  const unsigned char* p = Bytes(der);
  Key key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!key || p != Bytes(der) + der.size()) return nullptr;
  unsigned char* again = nullptr;
  const int len = i2d_PUBKEY(key.get(), &again);
  const bool canonical =
      len > 0 && absl::string_view(reinterpret_cast<char*>(again), static_cast<size_t>(len)) == der;
  OPENSSL_free(again);
  ERR_clear_error();
  if (!canonical) return nullptr;
  return key;
}

}  // namespace

absl::Status CheckPublicKey(const PublicKey& key) {
  Key pub = ParsePublic(key.spki_der);
  if (!pub) return absl::InvalidArgumentError("not a DER SubjectPublicKeyInfo");
  std::optional<Scheme> scheme = SchemeOf(pub.get());
  if (!scheme || *scheme != key.scheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key is not ", SchemeName(key.scheme), " as it says"));
  }
  return absl::OkStatus();
}

std::string PublicKeyPem(const PublicKey& key) {
  Key pub = ParsePublic(key.spki_der);
  if (!pub) return "";
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), pub.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<PublicKey> PublicKeyFromPem(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!pub) return absl::InvalidArgumentError("not a PEM public key");
  return PublicHalf(pub.get());
}

absl::StatusOr<std::string> Sign(absl::string_view private_pem, absl::string_view data) {
  Key key = ReadPrivate(private_pem);
  if (!key) return absl::InvalidArgumentError("not a PEM private key");
  std::optional<Scheme> scheme = SchemeOf(key.get());
  if (!scheme) {
    return absl::InvalidArgumentError("the key is neither ECDSA P-256 nor Ed25519");
  }
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, DigestOf(*scheme), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(data), data.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("signing failed");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(data), data.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("signing failed");
  }
  signature.resize(len);
  return signature;
}

bool Verify(const PublicKey& key, absl::string_view data, absl::string_view signature) {
  Key pub = ParsePublic(key.spki_der);
  if (!pub) return false;
  std::optional<Scheme> scheme = SchemeOf(pub.get());
  if (!scheme || *scheme != key.scheme) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, DigestOf(*scheme), nullptr, pub.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(data), data.size()) ==
          1;
  ERR_clear_error();
  return ok;
}

}  // namespace posfleet::signing

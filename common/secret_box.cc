#include "common/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace posfleet {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// "enc1:" + base64 -> nonce | ciphertext | tag.
bool Unwrap(absl::string_view sealed, std::string* raw) {
  return IsSealed(sealed) && absl::Base64Unescape(sealed.substr(kSealedPrefix.size()), raw) &&
         raw->size() >= kNonceBytes + kTagBytes;
}

// The plaintext, or nullopt if the tag does not verify under `key`.
std::optional<std::string> Decrypt(const std::string& key, const std::string& raw) {
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
  const auto* cipher = nonce + kNonceBytes;
  const int cipher_len = static_cast<int>(raw.size() - kNonceBytes - kTagBytes);
  std::string plain(static_cast<size_t>(cipher_len), '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key.data()), nonce);
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, cipher,
                    cipher_len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                      const_cast<unsigned char*>(cipher + cipher_len));
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                          &final_len) != 1) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace

bool IsSealed(absl::string_view value) { return absl::StartsWith(value, kSealedPrefix); }

absl::StatusOr<SecretBox> SecretBox::FromKey(absl::string_view key) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter key: must be ", kKeyBytes, " bytes, not ", key.size()));
  }
  return SecretBox(std::string(key));
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  std::string hex;
  for (char c : text.str()) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  }
  if (hex.size() != kKeyBytes * 2 ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": must hold 64 hex digits (a 256-bit key; `openssl rand -hex 32`)"));
  }
  return absl::HexStringToBytes(hex);
}

absl::StatusOr<SecretBox> SecretBox::FromFile(const std::string& path) {
  absl::StatusOr<std::string> key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  return FromKey(*key);
}

absl::Status SecretBox::AddRetiredKeyFile(const std::string& path) {
  absl::StatusOr<std::string> key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  for (const std::string& k : keys_) {
    if (k == *key) return absl::InvalidArgumentError(absl::StrCat(path, ": a key given twice"));
  }
  keys_.push_back(*std::move(key));
  return absl::OkStatus();
}

std::string SecretBox::Seal(absl::string_view plaintext) const {
  unsigned char nonce[kNonceBytes];
  RAND_bytes(nonce, sizeof nonce);
  std::string out(reinterpret_cast<const char*>(nonce), kNonceBytes);
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data() + kNonceBytes);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  int total = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(keys_[0].data()), nonce);
  EVP_EncryptUpdate(ctx.get(), cipher, &len,
                    reinterpret_cast<const unsigned char*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  total = len;
  EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len);
  total += len;
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, cipher + total);
  return absl::StrCat(kSealedPrefix, absl::Base64Escape(out));
}

absl::StatusOr<std::string> SecretBox::Open(absl::string_view sealed) const {
  std::string raw;
  if (!Unwrap(sealed, &raw)) return absl::InvalidArgumentError("sealed value: malformed");
  for (const std::string& key : keys_) {
    if (std::optional<std::string> plain = Decrypt(key, raw)) return *std::move(plain);
  }
  return absl::InvalidArgumentError(keys_.size() == 1
                                        ? "sealed value: does not open with this key"
                                        : "sealed value: does not open with any of the keys");
}

bool SecretBox::SealedWithCurrentKey(absl::string_view sealed) const {
  std::string raw;
  return Unwrap(sealed, &raw) && Decrypt(keys_[0], raw).has_value();
}

absl::StatusOr<std::string> SecretBox::Reseal(absl::string_view sealed) const {
  if (SealedWithCurrentKey(sealed)) return std::string(sealed);
  absl::StatusOr<std::string> plain = Open(sealed);
  if (!plain.ok()) return plain.status();
  return Seal(*plain);
}

}  // namespace posfleet

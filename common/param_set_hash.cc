#include "common/param_set_hash.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto.h"

namespace posfleet {
namespace {

// Every field that changes what the terminal accepts, each length-prefixed so that no text can
// imitate a boundary. The description and default are left out: neither is checked by the
// terminal (a default reaches it as a value).
void AppendSpec(std::string& out, const ParamSpec& spec) {
  auto field = [&out](absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out, name, value.size(), ":", value, ";");
  };
  auto number = [](const std::optional<double>& v) {
    return v ? absl::StrFormat("%.17g", *v) : std::string("-");
  };
  field("type", ParamTypeName(spec.type));
  field("min", number(spec.min));
  field("max", number(spec.max));
  field("length", absl::StrCat(spec.max_length));
  field("items", absl::StrCat(spec.max_items));
  field("pattern", spec.pattern);
  absl::StrAppend(&out, "allowed", spec.allowed.size(), "[");
  for (const std::string& a : spec.allowed) field("", a);
  absl::StrAppend(&out, "]");
  field("secret", spec.secret ? "1" : "0");
}

}  // namespace

std::string EncodeSpecForHash(const ParamSpec& spec) {
  std::string out = absl::StrCat(spec.key.size(), ":", spec.key, "{");
  AppendSpec(out, spec);
  out += "}";
  return out;
}

std::string ParamSetHash(const std::vector<HashedParam>& params) {
  std::string text = "posfleet param set 2\n";
  for (const HashedParam& p : params) {
    absl::StrAppend(&text, p.spec, "=", p.value.size(), ":", p.value, "\n");
  }
  return Sha256Hex(text);
}

std::string SecretDigest(absl::string_view hash_key, absl::string_view value) {
  return HmacSha256Hex(hash_key, value);
}

std::string NewHashKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no randomness: nothing is safe
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace posfleet

#include "common/random.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace posfleet {
namespace {

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

std::string RandomBase32(size_t chars) {
  std::vector<unsigned char> bytes(chars);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Without a working CSPRNG no id or secret is safe to hand out.
    std::abort();
  }
  std::string out;
  out.reserve(chars);
  for (unsigned char b : bytes) out.push_back(kBase32[b & 31]);
  return out;
}

}  // namespace

std::string NewId(absl::string_view prefix) { return std::string(prefix) + "_" + RandomBase32(20); }

std::string NewSecret(absl::string_view prefix) {
  return std::string(prefix) + "_" + RandomBase32(52);
}

}  // namespace posfleet

#include "common/crypto.h"

#include <gtest/gtest.h>

#include <set>

#include "common/random.h"

namespace posfleet {
namespace {

TEST(Sha256Test, MatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FingerprintTest, StableAndDistinct) {
  EXPECT_EQ(Fingerprint64("a|b"), Fingerprint64("a|b"));
  EXPECT_NE(Fingerprint64("a|b"), Fingerprint64("a|c"));
  EXPECT_EQ(Fingerprint64(""), 1469598103934665603ULL);  // FNV-1a offset basis
}

TEST(RandomTest, IdsHaveTheDocumentedShapeAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId("trm");
    ASSERT_EQ(id.size(), 24u);
    ASSERT_EQ(id.substr(0, 4), "trm_");
    for (char c : id.substr(4)) ASSERT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << id;
    ASSERT_TRUE(seen.insert(id).second);
  }
  EXPECT_EQ(NewSecret("pft").size(), 56u);
}

}  // namespace
}  // namespace posfleet

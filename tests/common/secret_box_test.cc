#include "common/secret_box.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace posfleet {
namespace {

class SecretBoxTest : public ::testing::Test {
 protected:
  std::string KeyFile(const std::string& name, const std::string& text) {
    const std::string path = root_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  SecretBox Box(char digit) {
    absl::StatusOr<SecretBox> box =
        SecretBox::FromFile(KeyFile(std::string(1, digit), std::string(64, digit) + "\n"));
    EXPECT_TRUE(box.ok()) << box.status();
    return *std::move(box);
  }
  testing::TempDir tmp_{"posfleet-secret-box"};
  const std::string root_ = tmp_.path();
};

TEST_F(SecretBoxTest, SealsWithAFreshNonceAndOpensOnlyWithItsKey) {
  SecretBox a = Box('a');
  const std::string one = a.Seal("s3cr3t");
  const std::string two = a.Seal("s3cr3t");
  EXPECT_TRUE(IsSealed(one));
  EXPECT_NE(one, two);  // a nonce per value: equal secrets do not look equal
  EXPECT_EQ(one.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(*a.Open(one), "s3cr3t");
  EXPECT_TRUE(a.SealedWithCurrentKey(one));

  SecretBox b = Box('b');
  EXPECT_TRUE(absl::IsInvalidArgument(b.Open(one).status()));
  EXPECT_FALSE(b.SealedWithCurrentKey(one));

  // One flipped bit, in the nonce, the ciphertext or the tag, is refused, not returned as
  // garbage.
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(absl::string_view(one).substr(kSealedPrefix.size()), &raw));
  for (size_t at : {size_t{0}, size_t{13}, raw.size() - 1}) {
    std::string bad = raw;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    EXPECT_FALSE(a.Open(absl::StrCat(kSealedPrefix, absl::Base64Escape(bad))).ok()) << at;
  }
  EXPECT_FALSE(a.Open("enc1:not base64!").ok());
  EXPECT_FALSE(a.Open("plain text").ok());
}

TEST_F(SecretBoxTest, ARetiredKeyStillOpensButNeverSeals) {
  SecretBox old_box = Box('a');
  const std::string before = old_box.Seal("host-pw");

  SecretBox box = Box('b');
  ASSERT_TRUE(box.AddRetiredKeyFile(root_ + "/a").ok());
  EXPECT_EQ(box.retired_keys(), 1u);
  EXPECT_EQ(*box.Open(before), "host-pw");
  EXPECT_FALSE(box.SealedWithCurrentKey(before));  // to be resealed
  const std::string resealed = *box.Reseal(before);
  EXPECT_TRUE(box.SealedWithCurrentKey(resealed));
  EXPECT_EQ(*box.Open(resealed), "host-pw");
  EXPECT_EQ(*box.Reseal(resealed), resealed);  // nothing left to do
  EXPECT_FALSE(Box('c').Reseal(before).ok());  // no key opens it

  const std::string after = box.Seal("host-pw");
  EXPECT_TRUE(box.SealedWithCurrentKey(after));
  EXPECT_FALSE(old_box.Open(after).ok());  // sealed with the new key only
  EXPECT_EQ(*Box('b').Open(after), "host-pw");

  EXPECT_TRUE(absl::IsInvalidArgument(box.AddRetiredKeyFile(root_ + "/b")));  // given twice
}

TEST_F(SecretBoxTest, ABadKeyFileIsNamedAndNeverEchoed) {
  const std::string short_key = std::string(62, 'c');
  absl::StatusOr<SecretBox> box = SecretBox::FromFile(KeyFile("short", short_key));
  ASSERT_TRUE(absl::IsInvalidArgument(box.status()));
  EXPECT_NE(box.status().message().find(root_ + "/short"), std::string::npos) << box.status();
  EXPECT_EQ(box.status().message().find(short_key), std::string::npos) << box.status();
  EXPECT_FALSE(SecretBox::FromFile(KeyFile("hex", std::string(63, 'd') + "g")).ok());
  EXPECT_FALSE(SecretBox::FromFile(root_ + "/missing").ok());
  SecretBox a = Box('a');
  EXPECT_FALSE(a.AddRetiredKeyFile(root_ + "/short").ok());
  EXPECT_EQ(a.retired_keys(), 0u);
}

}  // namespace
}  // namespace posfleet

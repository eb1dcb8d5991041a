#include "common/pan.h"

#include <gtest/gtest.h>

namespace posfleet {
namespace {

TEST(LuhnTest, KnownNumbers) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("5500005555555559"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid(""));
}

TEST(ContainsPanTest, FindsCardNumbersInText) {
  EXPECT_TRUE(ContainsPan("4111111111111111"));
  EXPECT_TRUE(ContainsPan("card 4111 1111 1111 1111 declined"));
  EXPECT_TRUE(ContainsPan("4111-1111-1111-1111"));
  EXPECT_TRUE(ContainsPan("x99994111111111111111"));  // glued to other digits
  EXPECT_TRUE(ContainsPan("pan=378282246310005;"));
}

TEST(ContainsPanTest, LeavesOrdinaryTextAlone) {
  EXPECT_FALSE(ContainsPan("411111******1111"));  // masked: the allowed form
  // 16 digits none of whose 13-16 digit windows passes Luhn. (Most long digit runs contain
  // some Luhn-valid window: the guard errs on the side of refusing.)
  EXPECT_FALSE(ContainsPan("8377835337406812"));
  EXPECT_FALSE(ContainsPan("serial 123456789012"));  // 12 digits: too short
  EXPECT_FALSE(ContainsPan("Cafe Nord, Hauptstr. 12"));
  EXPECT_FALSE(ContainsPan("4111 1111  1111 1111"));  // double space breaks the run
}

TEST(RedactTest, HidesCardNumbersAndTruncates) {
  EXPECT_EQ(Redact("4111111111111111"), "[redacted: card number]");
  EXPECT_EQ(Redact("abcdef", 3), "abc");
  EXPECT_EQ(Redact("trm_abc"), "trm_abc");
}

}  // namespace
}  // namespace posfleet

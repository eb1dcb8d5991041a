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
  EXPECT_TRUE(ContainsPan("ref:4111111111111111/x"));
  EXPECT_TRUE(ContainsPan("6011000990139424"));  // Discover
  EXPECT_TRUE(ContainsPan("3530111333300000"));  // JCB
  EXPECT_TRUE(ContainsPan("30569309025904"));    // Diners, 14 digits
  EXPECT_TRUE(ContainsPan("pan=378282246310005;"));
}

TEST(ContainsPanTest, LeavesOrdinaryTextAlone) {
  EXPECT_FALSE(ContainsPan("411111******1111"));      // masked: the allowed form
  EXPECT_FALSE(ContainsPan("4111111111111112"));      // fails Luhn
  EXPECT_FALSE(ContainsPan("490154203237518"));       // an IMEI: Luhn-valid, 15 digits, TAC 49
  EXPECT_FALSE(ContainsPan("356938035643809"));       // an IMEI with TAC 35: not Amex (34/37)
  EXPECT_FALSE(ContainsPan("8949010012345678901"));   // a Luhn-valid SIM ICCID (89...)
  EXPECT_FALSE(ContainsPan("99994111111111111111"));  // 20 digits: not a card number
  EXPECT_FALSE(ContainsPan("1763785912345678907"));   // a Luhn-valid 19-digit timestamp
  EXPECT_FALSE(ContainsPan("serial 123456789012"));   // 12 digits: too short
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

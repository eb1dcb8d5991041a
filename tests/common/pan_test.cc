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
  // Dates, times and addresses joined by separators are not card numbers.
  for (int ms = 0; ms < 1000; ++ms) {
    const std::string t = "2026-12-01 22:02:37." + std::to_string(ms) + "+00";
    EXPECT_FALSE(ContainsPan(t)) << t;
  }
  EXPECT_FALSE(ContainsPan("127.0.0.1:8883 10.1.2.3"));
  EXPECT_FALSE(ContainsPan("+49 30 1234 5678 12"));
}

// Every spelling the attack on issue 14 used, and more: all must be found.
TEST(ContainsPanTest, EveryFormOfSeparatorAndDigit) {
  const char* forms[] = {
      "4111.1111.1111.1111",
      "4111_1111_1111_1111",
      "4111:1111:1111:1111",
      "4111/1111/1111/1111",
      "4111  1111  1111  1111",              // double spaces
      "4111 - 1111 - 1111 - 1111",           // spaced dashes
      "4111\u00a01111\u00a01111\u00a01111",  // no-break spaces
      "4111\t1111\n1111\r1111",
      "(4111) [1111] {1111} <1111>",
      "4111,1111;1111|1111",
      "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"
      "\uff11",
      "4111111111111111 12/25",              // followed by an expiry date
      "ref 12 4111111111111111",             // after another number
      "41111 11111 111111",                  // odd grouping
      "4111\u200b1111\u200b1111\u200b1111",  // zero-width spaces
  };
  for (const char* f : forms) {
    const std::string text = f;  // \u escapes are UTF-8 in a narrow literal
    EXPECT_TRUE(ContainsPan(text)) << f;
  }
  // Arabic-Indic digits (U+0660..0669) and mixed scripts.
  std::string arabic;
  for (char c : std::string("4111111111111111")) {
    arabic += "\xd9";
    arabic += static_cast<char>(0xa0 + (c - '0'));
  }
  EXPECT_TRUE(ContainsPan(arabic));
  EXPECT_TRUE(
      ContainsPan("4111 \xef\xbc\x91"
                  "111 1111 1111"));  // one fullwidth 1
  // A letter still ends the number; invalid UTF-8 does not hide one.
  EXPECT_FALSE(ContainsPan("4111 1111 x 1111 1111"));
  EXPECT_TRUE(
      ContainsPan("4111\xff"
                  "1111\xfe"
                  "1111\x80"
                  "1111"));
}

TEST(RedactTest, HidesCardNumbersAndTruncates) {
  EXPECT_EQ(Redact("4111111111111111"), "[redacted: card number]");
  EXPECT_EQ(Redact("abcdef", 3), "abc");
  EXPECT_EQ(Redact("trm_abc"), "trm_abc");
}

// A protobuf string's length byte comes right before it, and lengths 48-57 are the ASCII digits
// '0'-'9': a fullwidth card number (16 x 3 bytes) in a raw payload reads as "0" glued to it.
TEST(PanTest, BinaryPayloadsAreScannedPastALengthByte) {
  const std::string fullwidth =
      "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"
      "\uff11";
  ASSERT_EQ(fullwidth.size(), 48u);
  const std::string payload = std::string("\x0a\x04trm_\x10\x01\x22") + '0' + fullwidth;
  EXPECT_TRUE(ContainsPanInBinary(payload));
  EXPECT_TRUE(ContainsPanInBinary(std::string("\x22") + '5' + "4111111111111111"));
  EXPECT_FALSE(ContainsPanInBinary("session 12345678901234567"));
}

}  // namespace
}  // namespace posfleet

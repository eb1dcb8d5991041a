#include "server/core/validation.h"

#include <gtest/gtest.h>

namespace posfleet::core {
namespace {

TerminalSpec Good() {
  return {"mer_aaaaaaaaaaaaaaaaaaaa", "PAX", "A920", "1234-ABC", "T0001", {{"region", "north"}}};
}

TEST(ValidationTest, AcceptsAGoodSpec) { EXPECT_FALSE(CheckTerminalSpec(Good()).has_value()); }

TEST(ValidationTest, NamesTheBadField) {
  struct Case {
    void (*mutate)(TerminalSpec&);
    const char* field;
  };
  const Case cases[] = {
      {[](TerminalSpec& s) { s.merchant_id = ""; }, "merchant_id"},
      {[](TerminalSpec& s) { s.merchant_id = "ten_aaaaaaaaaaaaaaaaaaaa"; }, "merchant_id"},
      {[](TerminalSpec& s) { s.vendor = ""; }, "vendor"},
      {[](TerminalSpec& s) { s.model = std::string(65, 'a'); }, "model"},
      {[](TerminalSpec& s) { s.serial = "has space"; }, "serial"},
      {[](TerminalSpec& s) { s.serial = "-leading"; }, "serial"},
      {[](TerminalSpec& s) { s.tid = "T-1"; }, "tid"},
      {[](TerminalSpec& s) { s.labels["bad key!"] = "x"; }, "labels"},
      {[](TerminalSpec& s) { s.labels["k"] = "no spaces"; }, "labels.k"},
      {[](TerminalSpec& s) { s.labels["k"] = "4111111111111111"; }, "labels.k"},
      {[](TerminalSpec& s) {
         for (int i = 0; i < 33; ++i) s.labels["k" + std::to_string(i)] = "v";
       },
       "labels"},
  };
  for (const Case& c : cases) {
    TerminalSpec spec = Good();
    c.mutate(spec);
    auto error = CheckTerminalSpec(spec);
    ASSERT_TRUE(error.has_value()) << c.field;
    EXPECT_EQ(error->field, c.field);
    EXPECT_EQ(ToStatus(*error, "terminal.").code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ValidationTest, RefusesCardNumbersInFreeTextWithoutEchoingThem) {
  Merchant m{"", "", "Shop 4111 1111 1111 1111", "M1", "", {}, {}};
  absl::Status s = ValidateMerchant(m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().find("4111"), absl::string_view::npos);
  EXPECT_FALSE(ValidateReason("reason", "customer card 5500005555555559").ok());
  absl::Status id = ValidateId("id", "4111111111111111", "trm");
  EXPECT_FALSE(id.ok());
  EXPECT_EQ(id.message().find("4111111111111111"), absl::string_view::npos);
}

TEST(ValidationTest, TextRules) {
  EXPECT_FALSE(ValidateTenantName("").ok());
  EXPECT_FALSE(ValidateTenantName(std::string("a\0b", 3)).ok());  // PostgreSQL refuses NUL
  EXPECT_FALSE(ValidateTenantName(std::string(101, 'x')).ok());
  EXPECT_TRUE(ValidateTenantName("Acme Acquiring GmbH").ok());
  EXPECT_FALSE(ValidateCountry("country", "de").ok());
  EXPECT_TRUE(ValidateCountry("country", "DE").ok());
  EXPECT_TRUE(ValidateId("id", "trm_abcdefghijklmnopqrst", "trm").ok());
  EXPECT_FALSE(ValidateId("id", "trm_abcdefghijklmnopqrs1", "trm").ok());  // '1' is not base32
}

}  // namespace
}  // namespace posfleet::core

#include "common/param_spec.h"

#include <gtest/gtest.h>

namespace posfleet {
namespace {

ParamSpec Spec(const std::string& key, ParamType type) {
  ParamSpec s;
  s.key = key;
  s.type = type;
  return s;
}

// The canonical value, or the error message.
std::string Canon(const ParamSpec& spec, const std::string& text) {
  absl::StatusOr<std::string> v = CanonicalValue(spec, text);
  return v.ok() ? *v : "ERROR " + std::string(v.status().message());
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ParamKeyTest, LowerCaseWordsJoinedByDots) {
  for (const char* good : {"timeout", "host.primary", "receipt.merchant_name", "emv.aid2.tac"}) {
    EXPECT_TRUE(ValidateParamKey(good).ok()) << good;
  }
  for (const char* bad :
       {"", "Host", "host.", ".host", "host..port", "2fa", "host-name", "a.B", "host port"}) {
    EXPECT_FALSE(ValidateParamKey(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateParamKey(std::string(65, 'a')).ok());
  EXPECT_TRUE(ValidateParamKey(std::string(64, 'a')).ok());
}

TEST(CanonicalValueTest, Integer) {
  ParamSpec s = Spec("idle_timeout", ParamType::kInteger);
  s.min = 5;
  s.max = 600;
  EXPECT_EQ(Canon(s, "30"), "30");
  EXPECT_EQ(Canon(s, "005"), "5");
  EXPECT_EQ(Canon(s, "600"), "600");
  EXPECT_TRUE(Has(Canon(s, "4"), "idle_timeout: must be at least 5")) << Canon(s, "4");
  EXPECT_TRUE(Has(Canon(s, "601"), "must be at most 600"));
  for (const char* bad : {"", "3.5", "+7", "1e3", " 7", "7 ", "seven", "99999999999999999999"}) {
    EXPECT_TRUE(Has(Canon(s, bad), "is not an integer")) << bad << ": " << Canon(s, bad);
  }
  ParamSpec negative = Spec("offset", ParamType::kInteger);
  EXPECT_EQ(Canon(negative, "-12"), "-12");
}

TEST(CanonicalValueTest, Decimal) {
  ParamSpec s = Spec("contactless.limit", ParamType::kDecimal);
  s.min = 0;
  s.max = 100;
  EXPECT_EQ(Canon(s, "50"), "50");
  EXPECT_EQ(Canon(s, "50.00"), "50");
  EXPECT_EQ(Canon(s, "050.50"), "50.5");
  EXPECT_EQ(Canon(s, "0.05"), "0.05");
  EXPECT_EQ(Canon(s, "100.0"), "100");
  EXPECT_TRUE(Has(Canon(s, "100.01"), "must be at most 100"));
  EXPECT_TRUE(Has(Canon(s, "-0.5"), "must be at least 0"));
  for (const char* bad : {"", ".5", "5.", "1,5", "1e2", "abc", "1.2.3", "-"}) {
    EXPECT_TRUE(Has(Canon(s, bad), "is not a decimal number")) << bad;
  }
}

TEST(CanonicalValueTest, BooleanEnumDuration) {
  ParamSpec b = Spec("tip.prompt", ParamType::kBoolean);
  EXPECT_EQ(Canon(b, "true"), "true");
  EXPECT_EQ(Canon(b, "false"), "false");
  EXPECT_TRUE(Has(Canon(b, "yes"), "is not true or false"));
  EXPECT_TRUE(Has(Canon(b, "True"), "is not true or false"));

  ParamSpec e = Spec("receipt.mode", ParamType::kEnum);
  e.allowed = {"print", "email", "none"};
  EXPECT_EQ(Canon(e, "email"), "email");
  EXPECT_TRUE(Has(Canon(e, "sms"), "is not one of print, email, none"));

  ParamSpec d = Spec("idle", ParamType::kDuration);
  d.min = 10;
  d.max = 3600;
  EXPECT_EQ(Canon(d, "90s"), "1m30s");
  EXPECT_EQ(Canon(d, "1h"), "1h");
  EXPECT_EQ(Canon(d, "1m30s"), "1m30s");
  EXPECT_TRUE(Has(Canon(d, "5s"), "must be at least 10 s"));
  EXPECT_TRUE(Has(Canon(d, "2h"), "must be at most 3600 s"));
  EXPECT_TRUE(Has(Canon(d, "-30s"), "cannot be negative"));
  for (const char* bad : {"", "90", "ten seconds", "inf"}) {
    EXPECT_TRUE(Has(Canon(d, bad), "is not a duration")) << bad << ": " << Canon(d, bad);
  }
}

TEST(CanonicalValueTest, StringLengthPatternControlCharactersAndCardNumbers) {
  ParamSpec s = Spec("host.primary", ParamType::kString);
  s.max_length = 20;
  s.pattern = R"([a-z0-9.-]+:[0-9]{1,5})";
  EXPECT_EQ(Canon(s, "acq.example:443"), "acq.example:443");
  EXPECT_TRUE(Has(Canon(s, "acq.example"), "does not match the pattern"));
  EXPECT_TRUE(Has(Canon(s, "a-very-long-host-name.example:443"), "longer than 20"));
  ParamSpec free = Spec("receipt.footer", ParamType::kString);
  EXPECT_EQ(Canon(free, "Danke!"), "Danke!");
  EXPECT_TRUE(Has(Canon(free, "line\nbreak"), "control characters"));
  EXPECT_TRUE(Has(Canon(free, std::string(1025, 'x')), "longer than 1024"));
  const std::string card = "Call 4111 1111 1111 1111";
  const std::string refused = Canon(free, card);
  EXPECT_TRUE(Has(refused, "looks like a card number")) << refused;
  EXPECT_FALSE(Has(refused, "4111")) << "the card number was echoed: " << refused;
}

TEST(CanonicalValueTest, SecretsAreNeverEchoed) {
  ParamSpec s = Spec("host.api_key", ParamType::kString);
  s.secret = true;
  s.pattern = "[A-Za-z0-9]{32}";
  const std::string wrong = "short-secret-value";
  const std::string msg = Canon(s, wrong);
  EXPECT_TRUE(Has(msg, "does not match the pattern")) << msg;
  EXPECT_FALSE(Has(msg, wrong)) << msg;
  EXPECT_FALSE(Has(msg, s.pattern)) << msg;
  EXPECT_EQ(Canon(s, std::string(32, 'k')), std::string(32, 'k'));
  // A card number is refused as a secret too (sealed is still stored), and not echoed.
  ParamSpec password = Spec("host.password", ParamType::kString);
  password.secret = true;
  const std::string card = Canon(password, "4111111111111111");
  EXPECT_TRUE(Has(card, "looks like a card number")) << card;
  EXPECT_FALSE(Has(card, "4111")) << card;
}

TEST(EditListTest, AddsWhereAbsentRemovesAndChecksTheResult) {
  ParamSpec s = Spec("currencies", ParamType::kList);
  s.max_items = 3;
  EXPECT_EQ(*EditList(s, "[\"EUR\",\"USD\"]", "[\"CHF\",\"EUR\"]", ""),
            "[\"EUR\",\"USD\",\"CHF\"]");
  EXPECT_EQ(*EditList(s, "[\"EUR\",\"USD\"]", "", "[\"EUR\",\"SEK\"]"), "[\"USD\"]");
  EXPECT_EQ(*EditList(s, "", "[\"EUR\"]", ""), "[\"EUR\"]");
  EXPECT_TRUE(Has(EditList(s, "[\"EUR\",\"USD\",\"CHF\"]", "[\"GBP\"]", "").status().ToString(),
                  "more than 3 items"));
  EXPECT_TRUE(Has(EditList(s, "", "EUR", "").status().ToString(), "JSON array"));
  EXPECT_TRUE(Has(
      EditList(Spec("receipt.header", ParamType::kString), "", "[\"x\"]", "").status().ToString(),
      "only on a list"));
}

TEST(CanonicalValueTest, ListIsAJsonArrayOfCheckedStrings) {
  ParamSpec s = Spec("currencies", ParamType::kList);
  s.allowed = {"EUR", "USD", "GBP"};
  s.max_items = 2;
  EXPECT_EQ(Canon(s, R"([ "EUR" , "USD" ])"), R"(["EUR","USD"])");
  EXPECT_EQ(Canon(s, "[]"), "[]");
  EXPECT_TRUE(Has(Canon(s, R"(["EUR","CHF"])"), "item 2 \"CHF\" is not one of EUR, USD, GBP"));
  EXPECT_TRUE(Has(Canon(s, R"(["EUR","USD","GBP"])"), "more than 2 items"));
  EXPECT_TRUE(Has(Canon(s, R"(["EUR",5])"), "item 2 is not a string"));
  EXPECT_TRUE(Has(Canon(s, "EUR,USD"), "JSON array"));
  EXPECT_TRUE(Has(Canon(s, R"({"a":"EUR"})"), "JSON array"));
}

TEST(ParamSpecTest, ConstraintsMustFitTheType) {
  ParamSpec ok = Spec("limit", ParamType::kDecimal);
  ok.min = 0;
  ok.max = 50;
  ok.default_value = "25";
  EXPECT_TRUE(ValidateParamSpec(ok).ok());

  auto message = [](ParamSpec s) { return std::string(ValidateParamSpec(s).message()); };
  ParamSpec s = Spec("flag", ParamType::kBoolean);
  s.min = 1;
  EXPECT_TRUE(Has(message(s), "min and max apply to integer, decimal and duration"));
  s = Spec("n", ParamType::kInteger);
  s.min = 10;
  s.max = 5;
  EXPECT_TRUE(Has(message(s), "min is greater than max"));
  s = Spec("mode", ParamType::kEnum);
  EXPECT_TRUE(Has(message(s), "needs its allowed values"));
  s.allowed = {"a", "a"};
  EXPECT_TRUE(Has(message(s), "allowed twice"));
  s = Spec("name", ParamType::kString);
  s.pattern = "([a-z";
  EXPECT_TRUE(Has(message(s), "pattern does not compile"));
  s = Spec("n", ParamType::kInteger);
  s.pattern = "[0-9]+";
  EXPECT_TRUE(Has(message(s), "pattern applies to string and list"));
  s = Spec("n", ParamType::kInteger);
  s.secret = true;
  EXPECT_TRUE(Has(message(s), "only strings can be secret"));
  s = Spec("pin", ParamType::kString);
  s.secret = true;
  s.default_value = "1234";
  EXPECT_TRUE(Has(message(s), "a secret has no default"));
  s = Spec("n", ParamType::kInteger);
  s.max = 10;
  s.default_value = "11";
  EXPECT_TRUE(Has(message(s), "default: n: must be at most 10")) << message(s);
  s = Spec("d", ParamType::kDuration);
  s.min = -1;
  EXPECT_TRUE(Has(message(s), "cannot be negative"));
}

}  // namespace
}  // namespace posfleet

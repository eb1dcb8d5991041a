#include "server/core/label_selector.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace posfleet::core {
namespace {

using Op = LabelRequirement::Op;

TEST(LabelSelectorTest, ParsesEveryForm) {
  auto s = ParseLabelSelector(
      "region=north, env==prod,tier!=gold,model in (A920, A80,A920),os notin (v1),pilot,!test");
  ASSERT_TRUE(s.ok()) << s.status();
  LabelSelector want = {
      {"region", Op::kIn, {"north"}}, {"env", Op::kIn, {"prod"}},
      {"tier", Op::kNotIn, {"gold"}}, {"model", Op::kIn, {"A80", "A920"}},
      {"os", Op::kNotIn, {"v1"}},     {"pilot", Op::kExists, {}},
      {"test", Op::kNotExists, {}},
  };
  EXPECT_EQ(*s, want);
}

TEST(LabelSelectorTest, EmptySelectsEverything) {
  auto s = ParseLabelSelector("  ");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  EXPECT_TRUE(Matches(*s, {{"a", "b"}}));
}

TEST(LabelSelectorTest, RejectsMalformedSelectorsNamingThePart) {
  for (const char* bad : {"model in A920", "model in (A920", "=x", "a b c", "k=v,", "(a)",
                          "model in ()", "k=a b", "in (a)x",
                          "k="
                          "\x01"}) {
    auto s = ParseLabelSelector(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.status().message().find("label_selector"), absl::string_view::npos) << bad;
  }
}

TEST(LabelSelectorTest, NeverEchoesACardNumber) {
  auto s = ParseLabelSelector("k in 4111111111111111");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("4111111111111111"), absl::string_view::npos);
}

TEST(LabelSelectorTest, MatchSemantics) {
  const Labels north_a920 = {{"region", "north"}, {"model", "A920"}};
  const Labels south = {{"region", "south"}};
  const Labels none = {};
  struct Case {
    const char* selector;
    bool north_a920, south, none;
  };
  const Case cases[] = {
      {"region=north", true, false, false},
      {"region!=north", false, true, true},  // a missing key is "not north"
      {"region in (north,south)", true, true, false},
      {"region notin (north,south)", false, false, true},
      {"model", true, false, false},
      {"!model", false, true, true},
      {"region=north,model=A920", true, false, false},
      {"region=north,!model", false, false, false},
  };
  for (const Case& c : cases) {
    auto s = ParseLabelSelector(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector;
    EXPECT_EQ(Matches(*s, north_a920), c.north_a920) << c.selector;
    EXPECT_EQ(Matches(*s, south), c.south) << c.selector;
    EXPECT_EQ(Matches(*s, none), c.none) << c.selector;
  }
}

TEST(LabelSelectorTest, ItsCostIsBoundedWhateverTheCallerWrites) {
  std::string many;
  for (size_t i = 0; i <= kMaxSelectorRequirements; ++i) {
    absl::StrAppend(&many, i ? "," : "", "k", i, "=v");
  }
  absl::StatusOr<LabelSelector> s = ParseLabelSelector(many);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_NE(s.status().message().find("at most 16 requirements"), std::string::npos) << s.status();
  std::string wide = "region in (";
  for (size_t i = 0; i <= kMaxSelectorValues; ++i) absl::StrAppend(&wide, i ? "," : "", "v", i);
  wide += ")";
  s = ParseLabelSelector(wide);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_NE(s.status().message().find("at most 256 values"), std::string::npos) << s.status();
  // Right at the limits it parses.
  many = many.substr(0, many.rfind(','));
  EXPECT_TRUE(ParseLabelSelector(many).ok());
}

}  // namespace
}  // namespace posfleet::core

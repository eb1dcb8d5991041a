#include "server/core/page_token.h"

#include <gtest/gtest.h>

namespace posfleet::core {
namespace {

TEST(PageTokenTest, RoundTrips) {
  const std::string token = EncodePageToken(12345, "terminals|ten_a|");
  auto after = DecodePageToken(token, "terminals|ten_a|");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, 12345);
  EXPECT_EQ(*DecodePageToken("", "anything"), 0);
}

TEST(PageTokenTest, RefusesTokensForOtherFilters) {
  const std::string token = EncodePageToken(7, "terminals|ten_a|");
  auto after = DecodePageToken(token, "terminals|ten_b|");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageTokenTest, RefusesGarbage) {
  for (const char* bad : {"not base64 !!", "djE6MTI=", "eDp5Ono=", "djE6LTE6MQ"}) {
    EXPECT_EQ(DecodePageToken(bad, "f").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PageSizeTest, DefaultsAndBounds) {
  EXPECT_EQ(*NormalizePageSize(0), 100);
  EXPECT_EQ(*NormalizePageSize(1000), 1000);
  EXPECT_FALSE(NormalizePageSize(1001).ok());
  EXPECT_FALSE(NormalizePageSize(-1).ok());
}

}  // namespace
}  // namespace posfleet::core

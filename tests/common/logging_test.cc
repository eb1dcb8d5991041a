#include "common/logging.h"

#include <gtest/gtest.h>

namespace posfleet {
namespace {

TEST(LogThrottleTest, ARepeatedLineIsLetThroughOncePerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1790000000);
  uint64_t held = 99;
  EXPECT_TRUE(throttle.Allow("unreachable", t0, &held));
  EXPECT_EQ(held, 0u);
  for (int i = 1; i <= 1000; ++i) {
    EXPECT_FALSE(throttle.Allow("unreachable", t0 + absl::Milliseconds(i), &held));
  }
  EXPECT_TRUE(throttle.Allow("unreachable", t0 + absl::Minutes(1), &held));
  EXPECT_EQ(held, 1000u);
  // Another line is news: at once, with nothing held back.
  EXPECT_TRUE(throttle.Allow("refused", t0 + absl::Minutes(1) + absl::Seconds(1), &held));
  EXPECT_EQ(held, 0u);
}

}  // namespace
}  // namespace posfleet

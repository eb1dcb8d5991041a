#include "server/core/enrollment_throttle.h"

#include <gtest/gtest.h>

#include "tests/support/simulated_env.h"

namespace posfleet::core {
namespace {

EnrollmentThrottleOptions Options() {
  EnrollmentThrottleOptions o;
  o.free_failures = 3;
  o.base = absl::Seconds(1);
  o.cap = absl::Minutes(10);
  o.concurrent_per_source = 2;
  return o;
}

// One failed attempt from `source` for `serial`; false if the throttle refused to start it.
bool Fail(EnrollmentThrottle& t, const std::string& source, const std::string& serial) {
  if (!t.Begin(source, serial).ok()) return false;
  t.Finish(source, serial, /*failed=*/true);
  return true;
}

TEST(EnrollmentThrottleTest, DelaysGrowPerSourceAfterAFewFailures) {
  testing::SimulatedEnv env;
  EnrollmentThrottle t(Options(), env);
  // 1,358 wrong codes a second from one client used to go through. Three are free; then each
  // failure doubles the wait: 1 s, 2 s, 4 s, ... up to 10 minutes.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Fail(t, "ipv4:10.0.0.1", "PAX\nSN" + std::to_string(i)));
  ASSERT_TRUE(Fail(t, "ipv4:10.0.0.1", "PAX\nSN9"));
  const absl::Status s = t.Begin("ipv4:10.0.0.1", "PAX\nSN10");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("retry in 1 s"), std::string::npos) << s;
  // Another source is not held back by it.
  EXPECT_TRUE(Fail(t, "ipv4:10.0.0.2", "PAX\nSN10"));
  env.Advance(absl::Seconds(1));
  ASSERT_TRUE(Fail(t, "ipv4:10.0.0.1", "PAX\nSN11"));
  EXPECT_NE(t.Begin("ipv4:10.0.0.1", "x").message().find("retry in 2 s"), std::string::npos);
  absl::Duration waited;
  for (int i = 0; i < 20; ++i) {
    absl::Status r;
    while (!(r = t.Begin("ipv4:10.0.0.1", "PAX\nSN12")).ok()) {
      env.Advance(absl::Seconds(1));
      waited += absl::Seconds(1);
    }
    t.Finish("ipv4:10.0.0.1", "PAX\nSN12", true);
  }
  // Twenty more failures cost hours, not milliseconds, and no single wait exceeds the cap.
  EXPECT_GT(waited, absl::Hours(2));
  EXPECT_NE(t.Begin("ipv4:10.0.0.1", "y").message().find("retry in 600 s"), std::string::npos);
}

TEST(EnrollmentThrottleTest, ATargetedSerialIsHeldBackFromEverySource) {
  testing::SimulatedEnv env;
  EnrollmentThrottle t(Options(), env);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Fail(t, "ipv4:10.0.1." + std::to_string(i), "PAX\nSN1"));
  EXPECT_TRUE(absl::IsResourceExhausted(t.Begin("ipv4:10.0.9.9", "PAX\nSN1")));
  EXPECT_TRUE(t.Begin("ipv4:10.0.9.9", "PAX\nSN2").ok());
  // The terminal enrolls (its technician waited): its serial starts afresh.
  env.Advance(absl::Seconds(1));
  ASSERT_TRUE(t.Begin("ipv4:10.0.9.8", "PAX\nSN1").ok());
  t.Finish("ipv4:10.0.9.8", "PAX\nSN1", /*failed=*/false);
  EXPECT_TRUE(Fail(t, "ipv4:10.0.9.7", "PAX\nSN1"));
}

TEST(EnrollmentThrottleTest, ParallelAttemptsFromOneSourceAreBounded) {
  testing::SimulatedEnv env;
  EnrollmentThrottle t(Options(), env);
  ASSERT_TRUE(t.Begin("ipv4:10.0.0.1", "a").ok());
  ASSERT_TRUE(t.Begin("ipv4:10.0.0.1", "b").ok());
  EXPECT_TRUE(absl::IsResourceExhausted(t.Begin("ipv4:10.0.0.1", "c")));
  t.Finish("ipv4:10.0.0.1", "a", false);
  EXPECT_TRUE(t.Begin("ipv4:10.0.0.1", "c").ok());
}

TEST(EnrollmentThrottleTest, QuietKeysAreForgottenAndMemoryIsBounded) {
  testing::SimulatedEnv env;
  EnrollmentThrottleOptions o = Options();
  o.max_keys = 100;
  EnrollmentThrottle t(o, env);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Fail(t, "ipv4:10.0.0.1", "s"));
  EXPECT_FALSE(t.Begin("ipv4:10.0.0.1", "s").ok());
  env.Advance(absl::Hours(2));  // no failure for longer than forget_after
  EXPECT_TRUE(t.Begin("ipv4:10.0.0.1", "s").ok());
  t.Finish("ipv4:10.0.0.1", "s", true);
  // A spray of sources and serials does not grow the tables without bound.
  for (int i = 0; i < 10000; ++i) Fail(t, "src" + std::to_string(i), "ser" + std::to_string(i));
  EXPECT_LE(t.keys(), 2 * (o.max_keys + 1));
}

}  // namespace
}  // namespace posfleet::core

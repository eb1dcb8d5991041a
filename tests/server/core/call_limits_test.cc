#include "server/core/call_limits.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/simulated_env.h"

namespace posfleet::core {
namespace {

Actor Viewer(const std::string& token, const std::string& tenant) {
  return Actor{token, token, Role::kViewer, tenant};
}

CallLimitOptions Options() {
  CallLimitOptions o;
  o.token_rate = 10;
  o.token_burst = 20;
  o.tenant_rate = 30;
  o.tenant_burst = 50;
  o.streams_per_token = 2;
  o.streams_per_tenant = 3;
  o.calls_per_tenant = 2;
  return o;
}

using Kind = CallLimits::CallKind;

// Admits and releases at once, as a quick unary call does (the caller's rate by its secret, as
// the API does, here the token id); the limit that refused, if one did.
std::optional<LimitKind> Call(CallLimits& limits, const Actor& actor, double cost = 1) {
  std::optional<LimitKind> refused;
  if (!limits.AdmitCaller(actor.token_id, cost, &refused).ok()) return refused;
  absl::StatusOr<CallLimits::Ticket> t = limits.Admit(actor, Kind::kUnary, cost, &refused);
  EXPECT_EQ(t.ok(), !refused.has_value());
  return refused;
}

TEST(CallLimitsTest, ATokenSpendsItsBurstThenItsRateAndIsToldWhenToRetry) {
  testing::SimulatedEnv env;
  CallLimits limits(Options(), env);
  const Actor a = Viewer("tok_a", "ten_1");
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(Call(limits, a)) << i;
  std::optional<LimitKind> refused;
  absl::Status over = limits.AdmitCaller(a.token_id, 1, &refused);
  ASSERT_TRUE(absl::IsResourceExhausted(over)) << over;
  EXPECT_EQ(refused, LimitKind::kTokenRate);
  EXPECT_NE(over.message().find("retry in 100 ms"), std::string::npos) << over;
  EXPECT_EQ(RetryAfterMs(over), 100);
  // Another token of the same tenant still has its own burst.
  EXPECT_FALSE(Call(limits, Viewer("tok_b", "ten_1")));
  // Ten a second, sustained.
  int admitted = 0;
  for (int ms = 0; ms < 10000; ms += 10) {
    env.Advance(absl::Milliseconds(10));
    if (!Call(limits, a)) ++admitted;
  }
  EXPECT_GE(admitted, 99);
  EXPECT_LE(admitted, 101);
}

TEST(CallLimitsTest, APageOfAThousandRowsCostsTenCalls) {
  testing::SimulatedEnv env;
  CallLimits limits(Options(), env);  // 10 a second, 20 at once
  const Actor a = Viewer("tok_a", "ten_1");
  EXPECT_FALSE(Call(limits, a, 10));
  EXPECT_FALSE(Call(limits, a, 10));
  std::optional<LimitKind> refused;
  absl::Status third = limits.AdmitCaller(a.token_id, 10, &refused);
  EXPECT_TRUE(absl::IsResourceExhausted(third));
  EXPECT_EQ(RetryAfterMs(third), 1000);  // ten calls' worth at ten a second
  // A call dearer than the whole burst still gets through once the bucket is full.
  env.Advance(absl::Seconds(2));
  EXPECT_FALSE(Call(limits, a, 500));
}

TEST(CallLimitsTest, ATenantsTokensShareItsRateAndOtherTenantsAreUntouched) {
  testing::SimulatedEnv env;
  CallLimits limits(Options(), env);
  int admitted = 0;
  std::optional<LimitKind> last;
  for (int i = 0; i < 10; ++i) {
    for (int j = 0; j < 10; ++j) {
      last = Call(limits, Viewer("tok_" + std::to_string(i), "ten_1"));
      if (!last) ++admitted;
    }
  }
  EXPECT_EQ(admitted, 50);  // the tenant's burst, though no token spent its own
  EXPECT_EQ(last, LimitKind::kTenantRate);
  EXPECT_FALSE(Call(limits, Viewer("tok_x", "ten_2")));
  // Global tokens are limited together, apart from every tenant.
  EXPECT_FALSE(Call(limits, Viewer("tok_g", "")));
}

TEST(CallLimitsTest, StreamsPerTokenAndPerTenantAreCappedAndClosingOneFreesItsSlot) {
  testing::SimulatedEnv env;
  CallLimits limits(Options(), env);
  const Actor a = Viewer("tok_a", "ten_1");
  std::vector<CallLimits::Ticket> open;
  for (int i = 0; i < 2; ++i) open.push_back(*limits.Admit(a, Kind::kStream));
  std::optional<LimitKind> refused;
  EXPECT_TRUE(absl::IsResourceExhausted(limits.Admit(a, Kind::kStream, 1, &refused).status()));
  EXPECT_EQ(refused, LimitKind::kTokenStreams);
  open.push_back(*limits.Admit(Viewer("tok_b", "ten_1"), Kind::kStream));
  refused.reset();
  EXPECT_FALSE(limits.Admit(Viewer("tok_c", "ten_1"), Kind::kStream, 1, &refused).ok());
  EXPECT_EQ(refused, LimitKind::kTenantStreams);
  // Another tenant is not affected; unary calls are not streams.
  EXPECT_TRUE(limits.Admit(Viewer("tok_d", "ten_2"), Kind::kStream).ok());
  EXPECT_FALSE(Call(limits, a));
  open.erase(open.begin());
  EXPECT_TRUE(limits.Admit(a, Kind::kStream).ok());
}

TEST(CallLimitsTest, ATenantHoldsAtMostItsShareOfCallsAtOnce) {
  testing::SimulatedEnv env;
  CallLimits limits(Options(), env);
  std::vector<CallLimits::Ticket> running;
  running.push_back(*limits.Admit(Viewer("tok_a", "ten_1"), Kind::kUnary));
  running.push_back(*limits.Admit(Viewer("tok_b", "ten_1"), Kind::kUnary));
  std::optional<LimitKind> refused;
  absl::StatusOr<CallLimits::Ticket> third =
      limits.Admit(Viewer("tok_c", "ten_1"), Kind::kUnary, 1, &refused);
  EXPECT_TRUE(absl::IsResourceExhausted(third.status()));
  EXPECT_EQ(refused, LimitKind::kTenantCalls);
  EXPECT_TRUE(RetryAfterMs(third.status()).has_value());
  EXPECT_TRUE(limits.Admit(Viewer("tok_d", "ten_2"), Kind::kUnary).ok());
  running.pop_back();
  EXPECT_TRUE(limits.Admit(Viewer("tok_c", "ten_1"), Kind::kUnary).ok());
}

TEST(CallLimitsTest, ZeroTurnsALimitOff) {
  testing::SimulatedEnv env;
  CallLimitOptions o;
  o.token_rate = o.tenant_rate = 0;
  o.streams_per_token = o.streams_per_tenant = o.calls_per_tenant = 0;
  CallLimits limits(o, env);
  std::vector<CallLimits::Ticket> held;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<CallLimits::Ticket> t =
        limits.Admit(Viewer("tok_a", "ten_1"), i % 2 ? Kind::kStream : Kind::kUnary);
    ASSERT_TRUE(t.ok()) << i;
    held.push_back(*std::move(t));
  }
}

TEST(CallLimitsTest, MemoryIsBoundedByForgettingRefilledIdleBuckets) {
  testing::SimulatedEnv env;
  CallLimitOptions o = Options();
  o.max_keys = 100;
  CallLimits limits(o, env);
  for (int i = 0; i < 1000; ++i) {
    Call(limits, Viewer("tok_" + std::to_string(i), "ten_" + std::to_string(i)));
    env.Advance(absl::Seconds(10));  // every earlier bucket is full again
  }
  EXPECT_LE(limits.keys(), o.max_keys + 1);  // in each of its maps
}

}  // namespace
}  // namespace posfleet::core

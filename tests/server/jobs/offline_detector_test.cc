// The offline detector's schedule in simulated time: it sweeps every interval by the Env's
// clock, and a terminal goes offline once it has been silent for the timeout, not before.

#include "server/jobs/offline_detector.h"

#include <gtest/gtest.h>

#include "common/metrics.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"
#include "tests/support/wait.h"

namespace posfleet::jobs {
namespace {

using testing::MemoryStore;
using testing::SimulatedEnv;

// An active terminal, in a tenant and merchant of its own, that has never connected.
void AddActiveTerminal(MemoryStore& store, const std::string& id) {
  ASSERT_TRUE(store.CreateTenant({"ten_a", "A", {}, {}}, {}).ok());
  ASSERT_TRUE(store.CreateMerchant({"mer_a", "ten_a", "m", "1", "", {}, {}}, {}).ok());
  core::Terminal t;
  t.id = id;
  t.merchant_id = "mer_a";
  t.vendor = "PAX";
  t.serial = "S1";
  t.state = core::TerminalState::kActive;
  ASSERT_TRUE(store.CreateTerminal({}, t, {}).ok());
}

TEST(OfflineDetectorTest, ATerminalGoesOfflineOnTheFirstSweepAfterItsTimeout) {
  SimulatedEnv env;
  MemoryStore store(env);
  AddActiveTerminal(store, "trm_1");
  ASSERT_TRUE(store.ApplyLinkReports({}, {{"trm_1", 1, {}}}, core::kNoHistory).ok());
  auto online = [&] { return store.GetTerminal({}, "trm_1")->presence->online; };

  Counters counters;
  OfflineDetector detector(store, counters, env, {absl::Seconds(90), absl::Seconds(10)});
  detector.Start();
  // 80 s of silence: eight sweeps, none of which may mark it.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(env.AwaitWaiting(1));
    env.Advance(absl::Seconds(10));
  }
  ASSERT_TRUE(env.AwaitWaiting(1));
  EXPECT_TRUE(online());
  // 100 s: the sweep at 100 s finds it silent for more than 90 s.
  env.Advance(absl::Seconds(20));
  EXPECT_TRUE(testing::WaitFor([&] { return !online(); }));
  detector.Stop();
  EXPECT_EQ(counters.Get("posfleet_link_silent_offline_total", ""), 1);
}

TEST(OfflineDetectorTest, AHeartbeatInTimeKeepsATerminalOnline) {
  SimulatedEnv env;
  MemoryStore store(env);
  AddActiveTerminal(store, "trm_1");
  Counters counters;
  OfflineDetector detector(store, counters, env, {absl::Seconds(90), absl::Seconds(10)});
  for (int minute = 0; minute < 10; ++minute) {
    ASSERT_TRUE(store.ApplyLinkReports({}, {{"trm_1", 1, {}}}, core::kNoHistory).ok());
    env.Advance(absl::Seconds(60));
    ASSERT_EQ(*detector.RunOnce(), 0) << "minute " << minute;
  }
  env.Advance(absl::Seconds(31));
  EXPECT_EQ(*detector.RunOnce(), 1);
  EXPECT_FALSE(store.GetTerminal({}, "trm_1")->presence->online);
}

}  // namespace
}  // namespace posfleet::jobs

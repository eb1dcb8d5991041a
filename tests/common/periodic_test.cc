#include "common/periodic.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/simulated_env.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::SimulatedEnv;

TEST(PeriodicTest, RunsEveryIntervalOfTheEnvsTimeUntilStopped) {
  SimulatedEnv env;
  std::atomic<int> runs{0};
  Periodic loop(env, absl::Seconds(10), Periodic::First::kAfterInterval, [&] { ++runs; });
  loop.Start();
  ASSERT_TRUE(env.AwaitWaiting(1));
  env.Advance(absl::Seconds(9));
  ASSERT_TRUE(env.AwaitWaiting(1));
  EXPECT_EQ(runs.load(), 0);  // not yet an interval
  env.Advance(absl::Seconds(1));
  ASSERT_TRUE(testing::WaitFor([&] { return runs.load() == 1; }));
  ASSERT_TRUE(env.AwaitWaiting(1));
  env.Advance(absl::Seconds(10));
  ASSERT_TRUE(testing::WaitFor([&] { return runs.load() == 2; }));
  loop.Stop();
  env.Advance(absl::Hours(1));
  EXPECT_EQ(runs.load(), 2);
  loop.Stop();  // idempotent
}

TEST(PeriodicTest, FirstNowRunsAtStartAndStopWorksBeforeStart) {
  SimulatedEnv env;
  std::atomic<int> runs{0};
  {
    Periodic never(env, absl::Seconds(1), Periodic::First::kNow, [&] { ++runs; });
    never.Stop();  // never started: nothing to join
  }
  Periodic loop(env, absl::Seconds(10), Periodic::First::kNow, [&] { ++runs; });
  loop.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return runs.load() == 1; }));
  // Destruction stops it; no run happens without time passing.
}

}  // namespace
}  // namespace posfleet

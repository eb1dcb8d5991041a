#include "common/env.h"

#include <random>

#include "absl/time/clock.h"

namespace posfleet {
namespace {

class RealEnvImpl final : public Env {
 public:
  absl::Time Now() const override { return absl::Now(); }

  void SleepUntil(absl::Time deadline) override { absl::SleepFor(deadline - absl::Now()); }

  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    return mu.AwaitWithDeadline(cond, deadline);
  }

  bool WaitForNotification(const absl::Notification& n, absl::Duration timeout) override {
    return n.WaitForNotificationWithTimeout(timeout);
  }

  double Uniform() override {
    thread_local std::mt19937_64 rng(std::random_device{}());
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
};

}  // namespace

Env& RealEnv() {
  static RealEnvImpl env;
  return env;
}

absl::Time NetworkNow() { return absl::Now(); }

std::chrono::system_clock::time_point NetworkDeadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

}  // namespace posfleet

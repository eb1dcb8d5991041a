#pragma once

#include <atomic>
#include <random>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/env.h"
#include "tests/support/wait.h"

namespace posfleet::testing {

// An Env whose time moves when the test says so (envoy's SimulatedTimeSystem is the model).
// Thread-safe. Waits return as soon as the simulated time passes their deadline: each wait looks
// again every few real milliseconds, so Advance needs no hook into the waiters.
//
// kFrozen (the default): time stands still between Advance calls; the way to test timers,
// backoff and sweeps without waiting. kRunning: time also flows with real time, offset by every
// Advance; for tests against real peers (a broker, a server) that need time to pass on its own
// while the test jumps ahead, e.g. to a certificate's renewal.
class SimulatedEnv final : public Env {
 public:
  enum class Flow { kFrozen, kRunning };

  explicit SimulatedEnv(absl::Time start = absl::Now(), Flow flow = Flow::kFrozen,
                        uint64_t seed = 17)
      : start_(start), real_start_(absl::Now()), flow_(flow), rng_(seed) {}
  explicit SimulatedEnv(Flow flow) : SimulatedEnv(absl::Now(), flow) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return NowLocked();
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    offset_ += t - NowLocked();
  }
  // Stops the flow of a kRunning Env where it is now: from here on time moves only by Advance.
  void Freeze() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = NowLocked();
    flow_ = Flow::kFrozen;
    offset_ += now - NowLocked();
  }

  // Threads inside a wait of this Env now.
  int waiting() const { return waiting_.load(); }
  // Blocks (in real time, up to `deadline`) until at least `n` threads wait on this Env, so a
  // test advances time only once the code under test is waiting for it.
  bool AwaitWaiting(int n, std::chrono::milliseconds deadline = std::chrono::seconds(30)) const {
    return WaitFor([&] { return waiting_.load() >= n; }, deadline);
  }

  void SleepUntil(absl::Time deadline) override {
    Waiting w(*this);
    absl::MutexLock lock(&mu_);
    auto due = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return NowLocked() >= deadline; };
    while (!due()) mu_.AwaitWithTimeout(absl::Condition(&due), kSlice);
  }

  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    Waiting w(*this);
    while (!cond.Eval() && Now() < deadline) mu.AwaitWithTimeout(cond, kSlice);
    return cond.Eval();
  }

  bool WaitForNotification(const absl::Notification& n, absl::Duration timeout) override {
    Waiting w(*this);
    const absl::Time deadline = Now() + timeout;
    while (!n.HasBeenNotified() && Now() < deadline) n.WaitForNotificationWithTimeout(kSlice);
    return n.HasBeenNotified();
  }

  double Uniform() override {
    absl::MutexLock lock(&mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  }

 private:
  static constexpr absl::Duration kSlice = absl::Milliseconds(5);

  struct Waiting {
    explicit Waiting(const SimulatedEnv& e) : env(e) { ++env.waiting_; }
    ~Waiting() { --env.waiting_; }
    const SimulatedEnv& env;
  };

  absl::Time NowLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Duration flowed =
        flow_ == Flow::kRunning ? absl::Now() - real_start_ : absl::ZeroDuration();
    return start_ + flowed + offset_;
  }

  const absl::Time start_;
  const absl::Time real_start_;
  mutable absl::Mutex mu_;
  Flow flow_ ABSL_GUARDED_BY(mu_);
  absl::Duration offset_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  mutable std::atomic<int> waiting_{0};
};

}  // namespace posfleet::testing

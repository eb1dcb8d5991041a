#pragma once

// The one environment of posfleet: time, waits and randomness (issue 17). Code that decides by
// the time of day, waits for a moment or draws a jitter takes an Env&, so tests drive it with a
// simulated one (tests/support/simulated_env.h) instead of waiting; nothing outside common/ reads
// the wall clock or sleeps (tools/check-env enforces it). leveldb's Env and envoy's TimeSystem
// are the models.
//
// Network deadlines (gRPC, MQTT) are the exception: the peer keeps real time whatever the Env,
// so they come from NetworkDeadline.

#include <chrono>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace posfleet {

class Env {
 public:
  virtual ~Env() = default;

  virtual absl::Time Now() const = 0;

  // Blocks the calling thread until Now() >= deadline.
  virtual void SleepUntil(absl::Time deadline) = 0;
  void SleepFor(absl::Duration d) { SleepUntil(Now() + d); }

  // Called with `mu` held: waits, releasing `mu` meanwhile, until `cond` holds or Now() reaches
  // `deadline`, as absl::Mutex::AwaitWithDeadline does by this Env's time. Returns with `mu` held
  // and whether `cond` holds.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;
  bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& cond, absl::Duration timeout) {
    return AwaitWithDeadline(mu, cond, Now() + timeout);
  }

  // Waits until `n` is notified or `timeout` passes by this Env's time; returns whether `n` is
  // notified. The loop of a periodic job: `while (!env.WaitForNotification(stop, every)) work();`
  virtual bool WaitForNotification(const absl::Notification& n, absl::Duration timeout) = 0;

  // A number drawn uniformly from [0, 1): jitter, spreads. Not for secrets (common/random.h).
  virtual double Uniform() = 0;
};

// The process's real environment: wall-clock time, real waits, a seeded PRNG per thread.
Env& RealEnv();

// The deadline of a network call `timeout` from now, in real time whatever the Env.
std::chrono::system_clock::time_point NetworkDeadline(absl::Duration timeout);
// Real time for a network protocol's own timers (MQTT keep-alive ticks, waits for a PUBACK),
// which the peer keeps in real time whatever the Env.
absl::Time NetworkNow();

}  // namespace posfleet

#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace posfleet {

// The one clock of posfleet. Code that decides something by the time of day (certificate
// renewal, partition maintenance) takes a Clock&, so tests drive it with a simulated clock
// (tests/support/simulated_clock.h) instead of waiting.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A process-wide RealClock.
inline Clock& SystemClock() {
  static RealClock clock;
  return clock;
}

}  // namespace posfleet

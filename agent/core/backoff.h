#pragma once

#include "absl/time/time.h"

namespace posfleet::agent {

// How long to wait before attempt `attempt` (0-based) to reconnect: exponential from `base`,
// capped at `cap`, with "equal jitter" (half fixed, half random by `jitter` in [0, 1)) so that a
// fleet that lost the broker together does not come back in one thundering herd. Pure: the
// caller supplies the random number.
absl::Duration Backoff(int attempt, absl::Duration base, absl::Duration cap, double jitter);

}  // namespace posfleet::agent

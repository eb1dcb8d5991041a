#include "agent/core/backoff.h"

#include <algorithm>

namespace posfleet::agent {

absl::Duration Backoff(int attempt, absl::Duration base, absl::Duration cap, double jitter) {
  absl::Duration d = base;
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  jitter = std::clamp(jitter, 0.0, 1.0);
  return d / 2 + (d / 2) * jitter;
}

}  // namespace posfleet::agent

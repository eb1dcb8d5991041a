#pragma once

// The one logger: spdlog. Include this instead of spdlog directly so that absl::string_view
// (a distinct type in Debian's Abseil build) can be formatted.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace posfleet {

// Keeps a line that repeats from flooding the log (a connect that fails at every backoff while
// the broker is down): the first of a run of identical lines is let through, then at most one
// per `every`, telling how many were held back since the last one. Not thread-safe: one per
// caller.
class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration every) : every_(every) {}

  // Whether to log `line` at `now`; when it returns true, `*held` is how many identical lines it
  // held back since the last one it let through.
  bool Allow(absl::string_view line, absl::Time now, uint64_t* held) {
    if (line != last_ || now - last_time_ >= every_) {
      *held = line == last_ ? held_ : 0;
      last_ = std::string(line);
      last_time_ = now;
      held_ = 0;
      return true;
    }
    ++held_;
    return false;
  }

 private:
  const absl::Duration every_;
  std::string last_;
  absl::Time last_time_ = absl::InfinitePast();
  uint64_t held_ = 0;
};

}  // namespace posfleet

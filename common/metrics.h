#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace posfleet {

// Monotonic counters with Prometheus text exposition. Cheap enough for per-request use at API
// rates; not meant for per-message hot paths (those keep their own atomics).
class Counters {
 public:
  // Adds `delta` to the series `name{labels}`; `labels` is the inside of the braces, already
  // formatted (`method="Get",code="OK"`), or empty.
  void Add(absl::string_view name, absl::string_view labels, int64_t delta = 1);

  // The current value of one series (0 if never added to).
  int64_t Get(absl::string_view name, absl::string_view labels) const;

  // All series in the Prometheus text format, one "# TYPE name counter" per name.
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<std::string, int64_t>, std::less<>> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet

#include "server/core/enrollment_throttle.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace posfleet::core {

absl::Duration EnrollmentThrottle::DelayAfter(int failures) const {
  const int over = failures - options_.free_failures;
  if (over <= 0) return absl::ZeroDuration();
  return std::min(options_.cap, options_.base * std::ldexp(1.0, std::min(over - 1, 30)));
}

void EnrollmentThrottle::Fail(Key& k, absl::Time now) const {
  ++k.failures;
  k.last_failure = now;
  k.next_allowed = now + DelayAfter(k.failures);
}

EnrollmentThrottle::Key* EnrollmentThrottle::Find(absl::flat_hash_map<std::string, Key>& map,
                                                  const std::string& key, absl::Time now) {
  Key& k = map[key];
  if (k.in_flight == 0 && k.failures > 0 && now - k.last_failure > options_.forget_after) {
    k = Key{};
  }
  return &k;
}

void EnrollmentThrottle::Trim(absl::Time now) {
  for (auto* map : {&sources_, &serials_}) {
    if (map->size() <= options_.max_keys) continue;
    // Forget what no longer makes anyone wait; if that is not enough, everything idle.
    absl::erase_if(*map, [&](const auto& e) {
      return e.second.in_flight == 0 && e.second.next_allowed <= now;
    });
    if (map->size() > options_.max_keys) {
      absl::erase_if(*map, [](const auto& e) { return e.second.in_flight == 0; });
    }
  }
}

absl::Status EnrollmentThrottle::Begin(const std::string& source, const std::string& serial_key) {
  const absl::Time now = env_.Now();
  absl::MutexLock lock(&mu_);
  Trim(now);
  Key* s = Find(sources_, source, now);
  Key* t = Find(serials_, serial_key, now);
  const absl::Time until = std::max(s->next_allowed, t->next_allowed);
  if (until > now) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many failed enrollments from this address or for this terminal; retry in ",
        static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(until - now))), " s"));
  }
  if (s->in_flight >= options_.concurrent_per_source) {
    return absl::ResourceExhaustedError(
        "too many enrollments under way from this address; retry in 1 s");
  }
  ++s->in_flight;
  ++t->in_flight;
  return absl::OkStatus();
}

void EnrollmentThrottle::Finish(const std::string& source, const std::string& serial_key,
                                bool failed) {
  const absl::Time now = env_.Now();
  absl::MutexLock lock(&mu_);
  Key& s = sources_[source];
  Key& t = serials_[serial_key];
  s.in_flight = std::max(0, s.in_flight - 1);
  t.in_flight = std::max(0, t.in_flight - 1);
  if (failed) {
    Fail(s, now);
    Fail(t, now);
  } else {
    // The terminal is enrolled: its serial starts afresh. The source keeps its count, so that
    // an attacker cannot clear its delays with one enrollment of its own.
    const int in_flight = t.in_flight;
    t = Key{};
    t.in_flight = in_flight;
  }
}

}  // namespace posfleet::core

#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"

namespace posfleet::core {

struct EnrollmentThrottleOptions {
  // Failures a key may have before it waits; then base, doubling, up to cap.
  int free_failures = 3;
  absl::Duration base = absl::Seconds(1);
  absl::Duration cap = absl::Minutes(10);
  // Enrollments of one source under way at once (a site enrolling several terminals behind one
  // address is fine; a client hammering in parallel is not).
  int concurrent_per_source = 16;  // posfleet-server --enroll-parallel-per-source
  // Keys remembered at most; beyond, those whose wait is over are forgotten first.
  size_t max_keys = 100000;
  // A key with no failure for this long starts again from zero.
  absl::Duration forget_after = absl::Hours(1);
};

// Growing delays for failed enrollments, per source address and per (vendor, serial): after
// free_failures failures, a key must wait base * 2^(n - free_failures - 1), at most cap, before
// its next attempt, which is refused with RESOURCE_EXHAUSTED (and a retry hint) without looking
// at the code at all, so the refusal says nothing about it. A success clears the serial's
// failures. Per replica and in memory: N replicas give an attacker N times the rate, which the
// per-code lock (in the store) and the code's 49.5 bits make irrelevant (docs/security.md).
class EnrollmentThrottle {
 public:
  EnrollmentThrottle(EnrollmentThrottleOptions options, Env& env) : options_(options), env_(env) {}

  // Starts an attempt: OK (call Finish later) or RESOURCE_EXHAUSTED saying when to retry.
  absl::Status Begin(const std::string& source, const std::string& serial_key);
  // Ends an attempt begun with an OK Begin.
  void Finish(const std::string& source, const std::string& serial_key, bool failed);
  // Keys remembered (sources and serials), for tests of the memory bound.
  size_t keys() {
    absl::MutexLock lock(&mu_);
    return sources_.size() + serials_.size();
  }

 private:
  struct Key {
    int failures = 0;
    absl::Time last_failure = absl::InfinitePast();
    absl::Time next_allowed = absl::InfinitePast();
    int in_flight = 0;
  };
  absl::Duration DelayAfter(int failures) const;
  void Fail(Key& k, absl::Time now) const;
  void Trim(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Key* Find(absl::flat_hash_map<std::string, Key>& map, const std::string& key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const EnrollmentThrottleOptions options_;
  Env& env_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Key> sources_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Key> serials_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::core

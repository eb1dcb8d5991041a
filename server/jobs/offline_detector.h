#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "server/core/repositories/presence.h"

namespace posfleet::jobs {

struct OfflineDetectorOptions {
  // Terminals that have said nothing for this long are marked offline (3 missed heartbeats at
  // the default 30 s interval).
  absl::Duration timeout = absl::Seconds(90);
  absl::Duration interval = absl::Seconds(10);  // how often it looks
};

// Marks offline the terminals that went silent without a Will (a cut cable, a dead battery: the
// broker may take its keep-alive time to notice, or never tell). Runs on every replica: marking
// is one idempotent UPDATE, so replicas that sweep at once mark each terminal once.
class OfflineDetector {
 public:
  OfflineDetector(core::PresenceRepository& presence, Counters& counters, Env& env,
                  OfflineDetectorOptions options)
      : presence_(presence), counters_(counters), env_(env), options_(options) {}
  ~OfflineDetector() { Stop(); }

  // One sweep now; returns how many terminals it marked offline
  // (posfleet_link_silent_offline_total).
  absl::StatusOr<int> RunOnce();
  // Sweeps every `interval`, by the Env's time, on a thread of its own until Stop.
  void Start();
  void Stop();

 private:
  // One run, its failure logged (the loop's work).
  void RunLogged();

  core::PresenceRepository& presence_;
  Counters& counters_;
  Env& env_;
  const OfflineDetectorOptions options_;
  // Last: stopped (by the destructor's Stop) before the members it uses go.
  Periodic loop_{env_, options_.interval, Periodic::First::kAfterInterval, [this] { RunLogged(); }};
};

}  // namespace posfleet::jobs

#pragma once

#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "server/core/repositories/audit_log.h"

namespace posfleet::core {

// Audit rows for refused calls that name no terminal (an unknown or malformed activation code, a
// foreign certificate, a throttled attempt): anyone can make those, so one row each would let
// anyone flood the append-only log (an attack measured ~42 GB a day). They are counted instead,
// and written as one row per method and source address per window, saying how many and why.
// Refusals that do name a terminal keep a row each, under its tenant, where the tenant's admins
// see them; their rate is bounded by the throttle and the code lock.
class FailureTally {
 public:
  struct Options {
    absl::Duration window = absl::Minutes(1);
    // Distinct sources counted per window; the rest are counted together as "other sources".
    size_t max_sources = 10000;
  };
  FailureTally(AuditLog& store, Options options, Env& env)
      : store_(store), options_(options), env_(env) {}
  ~FailureTally() { Flush(/*everything=*/true); }

  // Counts one refused `method` call from `source`. Writes out windows that have ended.
  void Add(absl::string_view method, absl::string_view source, const absl::Status& status);
  // Writes a row per (method, source) of every window that has ended; with `everything`, of the
  // current one too (at shutdown).
  void Flush(bool everything);

 private:
  struct Count {
    int64_t total = 0;
    std::map<std::string, int64_t> by_code;  // status code name -> count
  };
  using Key = std::pair<std::string, std::string>;  // method, source
  std::map<Key, Count> TakeEnded(absl::Time now, bool everything, absl::Time* window_start)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(const std::map<Key, Count>& counts, absl::Time window_start);

  AuditLog& store_;
  const Options options_;
  Env& env_;
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::map<Key, Count> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::core

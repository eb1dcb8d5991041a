#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "posfleet/v1/txn.pb.h"

namespace posfleet::sim {

// The payment records of one simulated terminal, shaped like a retail estate's: mostly
// contactless sales of a few euros to a few hundred, some chip, a little swipe and manual entry;
// about 4% declined, 1% failed or cancelled; refunds, voids, reversals and pre-authorisations
// followed by their completion. Card numbers are masked (first six, last four) as a payment
// application hands them over. Deterministic for a given seed and run.
class TxnStream {
 public:
  // `run` tells runs apart: transaction ids are unique per terminal only with a new run for
  // each start (posfleet-sim passes its start time), as the server stores an id once per
  // terminal, whatever its time.
  TxnStream(uint64_t seed, std::string serial, std::string mid, std::string currency,
            uint64_t run = 0);

  v1::TxnRecord Next(absl::Time now);

 private:
  std::mt19937_64 rng_;
  std::string serial_;
  std::string mid_;
  std::string tid_;
  std::string currency_;
  std::string run_;  // the run in letters
  uint64_t count_ = 0;
  uint32_t stan_ = 0;
  int64_t open_pre_auth_ = 0;  // amount of a pre-authorisation waiting for its completion
};

// Latencies from many threads, without a lock: log-spaced buckets 5% apart from 10 us to about
// 2 hours, so a percentile is within 5% of the true value.
class LatencyHistogram {
 public:
  void Record(absl::Duration d);
  // The q-quantile (0 < q <= 1) of what was recorded since the last Reset; zero when empty.
  absl::Duration Quantile(double q) const;
  absl::Duration Max() const;
  uint64_t count() const;
  void Reset();

 private:
  static constexpr int kBuckets = 420;
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> max_us_{0};
};

}  // namespace posfleet::sim

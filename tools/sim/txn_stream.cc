#include "tools/sim/txn_stream.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace posfleet::sim {
namespace {

struct Scheme {
  const char* name;
  const char* bin;  // first six digits
};
constexpr Scheme kVisa{"visa", "476173"}, kMastercard{"mastercard", "535522"},
    kMaestro{"maestro", "675928"}, kAmex{"amex", "374245"};

template <typename T>
T Pick(std::mt19937_64& rng, std::initializer_list<std::pair<T, int>> weighted) {
  int total = 0;
  for (const auto& [v, w] : weighted) total += w;
  int r = static_cast<int>(rng() % static_cast<uint64_t>(total));
  for (const auto& [v, w] : weighted) {
    if (r < w) return v;
    r -= w;
  }
  return weighted.begin()->first;
}

}  // namespace

TxnStream::TxnStream(uint64_t seed, std::string serial, std::string mid, std::string currency,
                     uint64_t run)
    : rng_(seed), serial_(std::move(serial)), mid_(std::move(mid)), currency_(std::move(currency)) {
  // Letters only, so the id has no long run of digits.
  do {
    run_.push_back(static_cast<char>('a' + run % 26));
    run /= 26;
  } while (run > 0);
  // The acquirer's terminal id: 8 characters, from the serial's digits.
  std::string digits;
  for (char c : serial_) {
    if (c >= '0' && c <= '9') digits += c;
  }
  tid_ = absl::StrFormat("S%07s", digits.size() > 7 ? digits.substr(digits.size() - 7) : digits);
  std::replace(tid_.begin(), tid_.end(), ' ', '0');
}

v1::TxnRecord TxnStream::Next(absl::Time now) {
  v1::TxnRecord r;
  ++count_;
  // Unique per terminal and run: the serial, the run, the start of this stream and a counter (a
  // payment app's ids are unique on the terminal, and the server keys on terminal + id).
  // Letters between the parts, so that no run of digits and separators could read as a card
  // number (the agent refuses an id that does).
  r.set_txn_id(
      absl::StrFormat("%s-R%sT%xN%d", serial_, run_, static_cast<uint64_t>(rng_() >> 40), count_));
  const int64_t nanos = absl::ToUnixNanos(now);
  r.mutable_time()->set_seconds(nanos / 1000000000);
  r.mutable_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));

  v1::TxnType type = Pick<v1::TxnType>(rng_, {{v1::TXN_TYPE_SALE, 880},
                                              {v1::TXN_TYPE_REFUND, 30},
                                              {v1::TXN_TYPE_VOID, 20},
                                              {v1::TXN_TYPE_PRE_AUTH, 40},
                                              {v1::TXN_TYPE_REVERSAL, 10}});
  if (open_pre_auth_ > 0 && rng_() % 3 == 0) type = v1::TXN_TYPE_COMPLETION;
  // Ticket sizes: log-normal around 20.00, from a coffee to a weekly shop.
  std::lognormal_distribution<double> ticket(std::log(2000.0), 0.9);
  int64_t amount = std::clamp<int64_t>(std::llround(ticket(rng_)), 50, 500000);
  if (type == v1::TXN_TYPE_COMPLETION) amount = open_pre_auth_;
  r.set_type(type);
  r.set_amount_minor(amount);
  r.set_currency(currency_);

  const v1::TxnResult result = Pick<v1::TxnResult>(rng_, {{v1::TXN_RESULT_APPROVED, 950},
                                                          {v1::TXN_RESULT_DECLINED, 40},
                                                          {v1::TXN_RESULT_FAILED, 6},
                                                          {v1::TXN_RESULT_CANCELLED, 4}});
  r.set_result(result);
  switch (result) {
    case v1::TXN_RESULT_APPROVED:
      r.set_response_code("00");
      r.set_auth_code(absl::StrFormat("%06d", rng_() % 1000000));
      break;
    case v1::TXN_RESULT_DECLINED:
      r.set_response_code(Pick<const char*>(rng_, {{"05", 5}, {"51", 3}, {"55", 1}, {"54", 1}}));
      break;
    case v1::TXN_RESULT_FAILED:
      r.set_response_code("91");
      break;
    default:
      r.set_response_code("17");
      break;
  }
  if (type == v1::TXN_TYPE_PRE_AUTH && result == v1::TXN_RESULT_APPROVED) open_pre_auth_ = amount;
  if (type == v1::TXN_TYPE_COMPLETION) open_pre_auth_ = 0;

  const Scheme* scheme =
      Pick<const Scheme*>(rng_, {{&kVisa, 52}, {&kMastercard, 38}, {&kMaestro, 5}, {&kAmex, 5}});
  r.set_scheme(scheme->name);
  const bool amex = scheme == &kAmex;
  r.set_masked_pan(absl::StrFormat("%s%s%04d", scheme->bin, amex ? "*****" : "******",
                                   static_cast<int>(rng_() % 10000)));
  r.set_entry_mode(Pick<v1::EntryMode>(rng_, {{v1::ENTRY_MODE_CONTACTLESS, 70},
                                              {v1::ENTRY_MODE_CHIP, 25},
                                              {v1::ENTRY_MODE_SWIPE, 4},
                                              {v1::ENTRY_MODE_MANUAL, 1}}));
  stan_ = stan_ % 999999 + 1;
  r.set_stan(absl::StrFormat("%06d", stan_));
  r.set_mid(mid_);
  r.set_tid(tid_);
  return r;
}

namespace {

constexpr double kBase = 10.0;    // microseconds, upper edge of bucket 0
constexpr double kGrowth = 1.05;  // each bucket 5% wider than the one before

int BucketOf(int64_t us) {
  if (us <= kBase) return 0;
  return static_cast<int>(std::ceil(std::log(static_cast<double>(us) / kBase) / std::log(kGrowth)));
}

}  // namespace

void LatencyHistogram::Record(absl::Duration d) {
  const int64_t us = std::max<int64_t>(0, absl::ToInt64Microseconds(d));
  buckets_[std::min(BucketOf(us), kBuckets - 1)].fetch_add(1, std::memory_order_relaxed);
  int64_t seen = max_us_.load(std::memory_order_relaxed);
  while (us > seen && !max_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

absl::Duration LatencyHistogram::Quantile(double q) const {
  const uint64_t n = count();
  if (n == 0) return absl::ZeroDuration();
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * n)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      // The bucket's upper edge, but never above the largest value seen.
      const double edge = kBase * std::pow(kGrowth, i);
      return absl::Microseconds(std::min<int64_t>(std::llround(edge), max_us_.load()));
    }
  }
  return Max();
}

absl::Duration LatencyHistogram::Max() const { return absl::Microseconds(max_us_.load()); }

void LatencyHistogram::Reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  max_us_.store(0);
}

}  // namespace posfleet::sim

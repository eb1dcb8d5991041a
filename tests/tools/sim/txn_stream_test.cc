#include "tools/sim/txn_stream.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/time/clock.h"
#include "common/pan.h"
#include "common/txn_record.h"

namespace posfleet::sim {
namespace {

TEST(TxnStreamTest, EveryRecordPassesTheChecksAndCarriesNoCardNumber) {
  TxnStream stream(7, "SIM-000042", "SIM", "EUR");
  std::set<std::string> ids;
  std::map<v1::TxnType, int> types;
  std::map<v1::TxnResult, int> results;
  const absl::Time now = absl::Now();
  for (int i = 0; i < 20000; ++i) {
    const v1::TxnRecord r = stream.Next(now);
    ASSERT_EQ(CheckTxnRecord(r), std::nullopt) << r.DebugString();
    ASSERT_FALSE(ContainsPan(r.SerializeAsString())) << r.DebugString();
    ASSERT_TRUE(ids.insert(r.txn_id()).second) << "repeated id " << r.txn_id();
    EXPECT_EQ(r.currency(), "EUR");
    EXPECT_EQ(r.result() == v1::TXN_RESULT_APPROVED, !r.auth_code().empty()) << r.DebugString();
    ++types[r.type()];
    ++results[r.result()];
  }
  // Shaped like a retail estate: sales dominate, every type and result occurs.
  EXPECT_EQ(types.size(), 6u);
  EXPECT_EQ(results.size(), 4u);
  EXPECT_GT(types[v1::TXN_TYPE_SALE], 20000 * 0.75);
  EXPECT_GT(results[v1::TXN_RESULT_APPROVED], 20000 * 0.9);
  EXPECT_LT(results[v1::TXN_RESULT_APPROVED], 20000 * 0.99);
}

TEST(TxnStreamTest, SameSeedSameRecords) {
  TxnStream a(3, "SIM-000001", "SIM", "EUR"), b(3, "SIM-000001", "SIM", "EUR");
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(a.Next(now).SerializeAsString(), b.Next(now).SerializeAsString());
  }
}

// A restarted simulator (another run) never submits an id of an earlier run again.
TEST(TxnStreamTest, AnotherRunAnotherSetOfIds) {
  TxnStream first(3, "SIM-000001", "SIM", "EUR", 1790000000000000);
  TxnStream again(3, "SIM-000001", "SIM", "EUR", 1790000000000001);
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(first.Next(now).txn_id());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(ids.count(again.Next(now).txn_id()), 0u);
}

TEST(LatencyHistogramTest, QuantilesAreWithinFivePercent) {
  LatencyHistogram h;
  EXPECT_EQ(h.Quantile(0.5), absl::ZeroDuration());
  for (int ms = 1; ms <= 1000; ++ms) h.Record(absl::Milliseconds(ms));
  EXPECT_EQ(h.count(), 1000u);
  const double p50 = absl::ToDoubleMilliseconds(h.Quantile(0.5));
  const double p99 = absl::ToDoubleMilliseconds(h.Quantile(0.99));
  EXPECT_NEAR(p50, 500, 500 * 0.05);
  EXPECT_NEAR(p99, 990, 990 * 0.05);
  EXPECT_EQ(h.Max(), absl::Milliseconds(1000));
  EXPECT_LE(h.Quantile(1.0), h.Max());
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Max(), absl::ZeroDuration());
}

}  // namespace
}  // namespace posfleet::sim

// The outbox's settle rule, for the SQLite outbox and the in-memory one: an ack settles a record
// only when it names both the record's seq and its transaction id.

#include "agent/outbox.h"

#include <gtest/gtest.h>

#include "tests/support/simulated_env.h"
#include "tests/support/temp_dir.h"

namespace posfleet::agent {
namespace {

class OutboxTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto opened = OpenSqliteOutbox(dir_.path() + "/outbox.db", 100, env_);
      ASSERT_TRUE(opened.ok()) << opened.status();
      outbox_ = *std::move(opened);
    } else {
      outbox_ = NewMemoryOutbox(100, env_);
    }
    auto added = outbox_->AddAll({{"txn-a", "A"}, {"txn-b", "B"}, {"txn-c", "C"}});
    ASSERT_TRUE(added.ok()) << added.status();
    a_ = (*added)[0].seq;
    b_ = (*added)[1].seq;
    c_ = (*added)[2].seq;
  }

  testing::SimulatedEnv env_;
  testing::TempDir dir_{"posfleet-outbox"};
  std::unique_ptr<Outbox> outbox_;
  uint64_t a_ = 0, b_ = 0, c_ = 0;
};

TEST_P(OutboxTest, AnAckSettlesOnlyRecordsItNamesBySeqAndId) {
  // The right seqs with the wrong ids, unknown seqs, a rejection of another id: nothing goes.
  auto none = outbox_->Settle({{a_, "txn-b"}, {b_, "txn-a"}, {999, "txn-a"}, {a_, ""}},
                              {{c_, "txn-x", "amount", "too large"}});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(outbox_->size(), 3u);
  EXPECT_TRUE(outbox_->Rejected().empty());

  auto some = outbox_->Settle({{a_, "txn-a"}}, {{c_, "txn-c", "amount", "too large"}});
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(*some, (std::vector<uint64_t>{a_, c_}));
  EXPECT_EQ(outbox_->size(), 1u);
  ASSERT_EQ(outbox_->Rejected().size(), 1u);
  EXPECT_EQ(outbox_->Rejected()[0].txn_id, "txn-c");
  auto left = outbox_->After(0, 10, 1 << 20);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].seq, b_);
  // A late duplicate of the same ack changes nothing.
  auto again = outbox_->Settle({{a_, "txn-a"}}, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

INSTANTIATE_TEST_SUITE_P(SqliteAndMemory, OutboxTest, ::testing::Bool());

}  // namespace
}  // namespace posfleet::agent

// The transaction uploader on simulated time and the in-memory outbox: the window, Nagle's rule
// for batches, ack matching, and when unanswered batches go again. No broker, no waiting.

#include "agent/txn_uploader.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "posfleet/v1/link.pb.h"
#include "tests/support/simulated_env.h"

namespace posfleet::agent {
namespace {

using testing::SimulatedEnv;

class TxnUploaderTest : public ::testing::Test {
 protected:
  TxnUploaderTest() : outbox_(NewMemoryOutbox(1000, env_)) {
    options_.window = 3;
    options_.batch_records = 4;
    options_.ack_timeout = absl::Seconds(15);
    options_.on_committed = [this](absl::Duration d) { latencies_.push_back(d); };
  }

  TxnUploader& Uploader() {
    if (!uploader_) {
      uploader_.emplace(options_, env_, *outbox_, [this](const std::string& payload) {
        if (!publish_status_.ok()) return publish_status_;
        v1::TxnBatch batch;
        EXPECT_TRUE(batch.ParseFromString(payload));
        sent_.push_back(batch);
        return absl::OkStatus();
      });
      uploader_->Reset("trm_uploader");
    }
    return *uploader_;
  }

  void Record(int n) {
    for (int i = 0; i < n; ++i) {
      v1::TxnRecord r;
      r.set_txn_id(absl::StrCat("txn-", next_++));
      ASSERT_TRUE(outbox_->Add(r.txn_id(), r.SerializeAsString()).ok());
    }
  }

  // The ack of a whole batch, as the server sends it.
  static std::string AckOf(const v1::TxnBatch& batch) {
    v1::TxnAck ack;
    ack.set_batch_id(batch.batch_id());
    for (const v1::TxnRecord& r : batch.records()) {
      auto* c = ack.add_committed();
      c->set_seq(r.seq());
      c->set_txn_id(r.txn_id());
    }
    return ack.SerializeAsString();
  }

  static std::vector<uint64_t> Seqs(const v1::TxnBatch& b) {
    std::vector<uint64_t> out;
    for (const v1::TxnRecord& r : b.records()) out.push_back(r.seq());
    return out;
  }

  SimulatedEnv env_;
  std::unique_ptr<Outbox> outbox_;
  UploaderOptions options_;
  std::optional<TxnUploader> uploader_;
  std::vector<v1::TxnBatch> sent_;
  std::vector<absl::Duration> latencies_;
  absl::Status publish_status_;
  int next_ = 1;
};

TEST_F(TxnUploaderTest, ASmallBatchLeavesAtOnceAndTheNextWaitsForItsAck) {
  Record(1);
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].terminal_id(), "trm_uploader");
  EXPECT_EQ(sent_[0].records_size(), 1);
  Record(2);
  Uploader().Pump();
  EXPECT_EQ(sent_.size(), 1u);  // Nagle: one batch that is not full in flight at a time
  env_.Advance(absl::Milliseconds(40));
  Uploader().OnAck(AckOf(sent_[0]));
  EXPECT_EQ(Uploader().acknowledged(), 1u);
  EXPECT_EQ(latencies_, std::vector<absl::Duration>{absl::Milliseconds(40)});
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].records_size(), 2);  // the two that waited, together
  EXPECT_GT(sent_[1].batch_id(), sent_[0].batch_id());
  EXPECT_EQ(outbox_->size(), 2u);  // the acked one is gone, the others stay until acked
}

TEST_F(TxnUploaderTest, FullBatchesFillTheWindowAndNoMore) {
  Record(20);
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 3u);  // the window
  EXPECT_EQ(Seqs(sent_[1]).front(), Seqs(sent_[0]).back() + 1);
  EXPECT_EQ(Uploader().in_flight(), 12u);
  Uploader().OnAck(AckOf(sent_[1]));  // out of order is fine
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 4u);
  EXPECT_EQ(Seqs(sent_[3]).front(), Seqs(sent_[2]).back() + 1);
}

TEST_F(TxnUploaderTest, AnUnansweredBatchGoesAgainAtTheAckTimeoutWithEverythingAfterIt) {
  Record(6);
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 2u);  // one full batch of 4, then the 2 left
  EXPECT_EQ(Uploader().NextDeadline(), env_.Now() + absl::Seconds(15));
  env_.Advance(absl::Seconds(15) - absl::Milliseconds(1));
  Uploader().Pump();
  EXPECT_EQ(sent_.size(), 2u);
  env_.Advance(absl::Milliseconds(1));
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 4u);
  EXPECT_EQ(Seqs(sent_[2]), Seqs(sent_[0]));
  EXPECT_EQ(Seqs(sent_[3]), Seqs(sent_[1]));
  EXPECT_NE(sent_[2].batch_id(), sent_[0].batch_id());
  // A late ack of the first sending still settles the records (replays are harmless), and
  // the ack of the second sending, arriving after it, counts nothing twice.
  Uploader().OnAck(AckOf(sent_[0]));
  EXPECT_EQ(Uploader().in_flight(), 2u);
  EXPECT_EQ(outbox_->size(), 2u);
  Uploader().OnAck(AckOf(sent_[2]));
  EXPECT_EQ(Uploader().acknowledged(), 4u);
}

TEST_F(TxnUploaderTest, AnAckSettlesOnlyWhatItNamesExactly) {
  Record(2);
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 1u);
  v1::TxnAck wrong;
  auto* c = wrong.add_committed();
  c->set_seq(sent_[0].records(0).seq());
  c->set_txn_id("txn-someone-else");
  Uploader().OnAck(wrong.SerializeAsString());
  Uploader().OnAck("not a protobuf \xff\xff\xff");
  EXPECT_EQ(outbox_->size(), 2u);
  EXPECT_EQ(Uploader().in_flight(), 2u);

  v1::TxnAck mixed;
  c = mixed.add_committed();
  c->set_seq(sent_[0].records(0).seq());
  c->set_txn_id(sent_[0].records(0).txn_id());
  auto* r = mixed.add_rejected();
  r->set_seq(sent_[0].records(1).seq());
  r->set_txn_id(sent_[0].records(1).txn_id());
  r->set_field("amount_minor");
  r->set_reason("must be positive");
  Uploader().OnAck(mixed.SerializeAsString());
  EXPECT_EQ(outbox_->size(), 0u);
  EXPECT_EQ(Uploader().acknowledged(), 1u);
  EXPECT_EQ(Uploader().rejected(), 1u);
  EXPECT_EQ(Uploader().batches_in_flight(), 0u);
  EXPECT_EQ(Uploader().NextDeadline(), absl::InfiniteFuture());
  ASSERT_EQ(outbox_->Rejected().size(), 1u);
  EXPECT_EQ(outbox_->Rejected()[0].field, "amount_minor");
}

TEST_F(TxnUploaderTest, UnheardBatchesGoAgainSoonBackingOffToTheAckTimeout) {
  Record(1);
  Uploader().Pump();
  const absl::Time start = env_.Now();
  Uploader().OnUnheard();
  EXPECT_EQ(Uploader().NextDeadline(), start + absl::Milliseconds(500));
  env_.Advance(absl::Milliseconds(500));
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 2u);
  Uploader().OnUnheard();
  EXPECT_EQ(Uploader().NextDeadline(), env_.Now() + absl::Seconds(1));
  for (int i = 0; i < 10; ++i) Uploader().OnUnheard();
  // Never later than the ack timeout would have sent it anyway.
  EXPECT_EQ(Uploader().NextDeadline(), env_.Now() + absl::Seconds(1));
  env_.Advance(absl::Seconds(1));
  Uploader().Pump();
  Uploader().OnUnheard();
  EXPECT_EQ(Uploader().NextDeadline(), env_.Now() + options_.ack_timeout);
  // An ack means a server reads again: the next silence starts from 500 ms.
  Uploader().OnAck(AckOf(sent_.back()));
  Record(1);
  Uploader().Pump();
  Uploader().OnUnheard();
  EXPECT_EQ(Uploader().NextDeadline(), env_.Now() + absl::Milliseconds(500));
}

TEST_F(TxnUploaderTest, AFailedPublishSendsNothingAndANewSessionSendsEverythingAgain) {
  Record(3);
  publish_status_ = absl::UnavailableError("not connected");
  Uploader().Pump();
  EXPECT_EQ(Uploader().batches_in_flight(), 0u);
  publish_status_ = absl::OkStatus();
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 1u);
  Uploader().Reset("trm_uploader");
  EXPECT_EQ(Uploader().in_flight(), 0u);
  Uploader().Pump();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(Seqs(sent_[1]), Seqs(sent_[0]));
}

}  // namespace
}  // namespace posfleet::agent

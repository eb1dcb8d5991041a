// The link's ingests on the in-memory repositories with simulated time: group commit, acks only
// after the commit, conflicts, backpressure, a failed commit retried after its backoff, and
// presence that waits while the database is away. No broker: acks go to a recording publish
// function. link_test runs the same paths through a real Mosquitto and PostgreSQL.

#include <gtest/gtest.h>

#include <map>

#include "common/metrics.h"
#include "posfleet/v1/link.pb.h"
#include "server/link/presence_ingest.h"
#include "server/link/txn_ingest.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"
#include "tests/support/wait.h"

namespace posfleet::link {
namespace {

using testing::MemoryStore;
using testing::SimulatedEnv;

void AddActiveTerminals(MemoryStore& store, const std::vector<std::string>& ids) {
  ASSERT_TRUE(store.CreateTenant({"ten_a", "A", {}, {}}, {}).ok());
  ASSERT_TRUE(store.CreateMerchant({"mer_a", "ten_a", "m", "1", "", {}, {}}, {}).ok());
  for (const std::string& id : ids) {
    core::Terminal t;
    t.id = id;
    t.merchant_id = "mer_a";
    t.vendor = "PAX";
    t.serial = "S" + id;
    t.state = core::TerminalState::kActive;
    ASSERT_TRUE(store.CreateTerminal({}, t, {}).ok());
  }
}

// Every ack published, decoded, per terminal in publish order.
class Acks {
 public:
  TxnIngest::Publish Sink() {
    return [this](const std::string& topic, const std::string& payload) {
      v1::TxnAck ack;
      EXPECT_TRUE(ack.ParseFromString(payload));
      absl::MutexLock lock(&mu_);
      by_topic_[topic].push_back(ack);
      return true;
    };
  }
  std::vector<v1::TxnAck> For(const std::string& terminal_id) {
    absl::MutexLock lock(&mu_);
    return by_topic_["posfleet/v1/t/" + terminal_id + "/down/ack"];
  }
  size_t Messages() {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const auto& [topic, acks] : by_topic_) n += acks.size();
    return n;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<v1::TxnAck>> by_topic_ ABSL_GUARDED_BY(mu_);
};

std::vector<uint64_t> CommittedSeqs(const v1::TxnAck& ack) {
  std::vector<uint64_t> seqs;
  for (const auto& c : ack.committed()) seqs.push_back(c.seq());
  return seqs;
}

// A batch of `n` records of `terminal_id`, seqs from `first_seq`, ids "<terminal>-<seq>".
TxnUpload Batch(const std::string& terminal_id, uint64_t batch_id, int first_seq, int n,
                absl::Time at, int64_t amount = 100) {
  TxnUpload up;
  up.batch_id = batch_id;
  for (int s = first_seq; s < first_seq + n; ++s) {
    core::Txn t;
    t.terminal_id = terminal_id;
    t.txn_id = terminal_id + "-" + std::to_string(s);
    t.seq = s;
    t.time = at;
    t.amount_minor = amount;
    t.currency = "EUR";
    up.records.push_back(t);
  }
  return up;
}

size_t Stored(MemoryStore& store) {
  core::TxnFilter f;
  f.start_time = absl::InfinitePast();
  f.end_time = absl::InfiniteFuture();
  core::Window w;
  w.limit = 1000;
  return store.ListTransactions(f, w)->items.size();
}

// Fails the first `failures` commits as a lost connection would.
class FlakyTransactions final : public core::TransactionRepository {
 public:
  FlakyTransactions(core::TransactionRepository& inner, int failures)
      : inner_(inner), failures_(failures) {}
  absl::StatusOr<core::IngestOutcome> IngestTransactions(
      const std::vector<core::Txn>& txns) override {
    ++calls_;
    if (failures_ > 0) {
      --failures_;
      return absl::UnavailableError("database unavailable: connection lost");
    }
    return inner_.IngestTransactions(txns);
  }
  absl::StatusOr<core::Slice<core::Txn>> ListTransactions(const core::TxnFilter& f,
                                                          const core::Window& w) override {
    return inner_.ListTransactions(f, w);
  }
  absl::StatusOr<std::vector<core::DailyTotal>> DailyTotals(
      const core::TxnReportFilter& f) override {
    return inner_.DailyTotals(f);
  }
  absl::StatusOr<core::Slice<core::SilentTerminal>> ListSilentTerminals(
      const core::Scope& s, absl::string_view m, absl::Duration d, const core::Window& w) override {
    return inner_.ListSilentTerminals(s, m, d, w);
  }
  int calls() const { return calls_.load(); }

 private:
  core::TransactionRepository& inner_;
  std::atomic<int> failures_;
  std::atomic<int> calls_{0};
};

class TxnIngestOnFakes : public ::testing::Test {
 protected:
  TxnIngestOnFakes() : store_(env_) { AddActiveTerminals(store_, {"trm_1", "trm_2"}); }

  std::unique_ptr<TxnIngest> Ingest(core::TransactionRepository& repo, TxnIngestOptions o = {}) {
    return std::make_unique<TxnIngest>(repo, counters_, env_, o, acks_.Sink());
  }

  SimulatedEnv env_;
  MemoryStore store_;
  Counters counters_;
  Acks acks_;
};

TEST_F(TxnIngestOnFakes, RecordsAreAckedOnlyAfterTheirCommitAndAReplayIsAckedAgainNotStored) {
  auto ingest = Ingest(store_);
  ingest->Queue("trm_1", Batch("trm_1", 7, 1, 3, env_.Now()));
  EXPECT_EQ(acks_.Messages(), 0u) << "nothing may be acked before its commit";
  EXPECT_EQ(Stored(store_), 0u);

  ASSERT_TRUE(ingest->Flush().ok());
  ASSERT_EQ(acks_.For("trm_1").size(), 1u);
  EXPECT_EQ(acks_.For("trm_1")[0].batch_id(), 7u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_1")[0]), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Stored(store_), 3u);

  // The agent missed the ack and sends the batch again: acked again, stored once.
  ingest->Queue("trm_1", Batch("trm_1", 7, 1, 3, env_.Now()));
  ASSERT_TRUE(ingest->Flush().ok());
  ASSERT_EQ(acks_.For("trm_1").size(), 2u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_1")[1]), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Stored(store_), 3u);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"inserted\""), 3);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"duplicate\""), 3);
  EXPECT_EQ(counters_.Get("posfleet_txn_acks_total", ""), 2);
}

TEST_F(TxnIngestOnFakes, OneCommitCoversSeveralBatchesUpToTheLimitWithOneAckPerTerminal) {
  TxnIngestOptions o;
  o.batch_max = 4;
  auto ingest = Ingest(store_, o);
  ingest->Queue("trm_1", Batch("trm_1", 1, 1, 2, env_.Now()));
  ingest->Queue("trm_2", Batch("trm_2", 1, 1, 1, env_.Now()));
  ingest->Queue("trm_1", Batch("trm_1", 2, 3, 1, env_.Now()));
  ingest->Queue("trm_2", Batch("trm_2", 2, 2, 2, env_.Now()));  // would make 6 > 4

  ASSERT_TRUE(ingest->Flush().ok());
  EXPECT_EQ(counters_.Get("posfleet_txn_commits_total", "result=\"ok\""), 1);
  ASSERT_EQ(acks_.For("trm_1").size(), 1u) << "both batches of trm_1 in one ack";
  EXPECT_EQ(acks_.For("trm_1")[0].batch_id(), 2u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_1")[0]), (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(acks_.For("trm_2").size(), 1u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_2")[0]), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Stored(store_), 4u);

  ASSERT_TRUE(ingest->Flush().ok());
  ASSERT_EQ(acks_.For("trm_2").size(), 2u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_2")[1]), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Stored(store_), 6u);
}

TEST_F(TxnIngestOnFakes, AnIdTakenByOtherContentIsRejectedAndDecoderRejectionsAreAckedAtOnce) {
  auto ingest = Ingest(store_);
  ingest->Queue("trm_1", Batch("trm_1", 1, 1, 1, env_.Now(), 100));
  ASSERT_TRUE(ingest->Flush().ok());
  ingest->Queue("trm_1", Batch("trm_1", 2, 1, 1, env_.Now(), 999));  // same id, other amount
  ASSERT_TRUE(ingest->Flush().ok());
  ASSERT_EQ(acks_.For("trm_1").size(), 2u);
  const v1::TxnAck conflict = acks_.For("trm_1")[1];
  EXPECT_EQ(conflict.committed_size(), 0);
  ASSERT_EQ(conflict.rejected_size(), 1);
  EXPECT_EQ(conflict.rejected(0).field(), "txn_id");
  EXPECT_EQ(Stored(store_), 1u);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"conflict\""), 1);

  // A batch with nothing to commit: its rejections go out without waiting for a commit.
  TxnUpload refused;
  refused.batch_id = 3;
  refused.rejected.push_back({5, "trm_1-5", "amount_minor", "must not be negative", false});
  refused.rejected.push_back({6, "", "masked_pan", "holds a card number", true});
  ingest->Queue("trm_1", refused);
  ASSERT_EQ(acks_.For("trm_1").size(), 3u);
  EXPECT_EQ(acks_.For("trm_1")[2].rejected_size(), 2);
  EXPECT_EQ(counters_.Get("posfleet_txn_quarantined_total", "field=\"masked_pan\""), 1);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"rejected\""), 1);
}

TEST_F(TxnIngestOnFakes, BeyondThePendingLimitABatchIsDeferredUnackedNotDropped) {
  TxnIngestOptions o;
  o.pending_max = 5;
  auto ingest = Ingest(store_, o);
  ingest->Queue("trm_1", Batch("trm_1", 1, 1, 3, env_.Now()));
  ingest->Queue("trm_2", Batch("trm_2", 1, 1, 3, env_.Now()));  // 6 > 5: deferred
  EXPECT_EQ(counters_.Get("posfleet_txn_batches_deferred_total", ""), 1);
  ASSERT_TRUE(ingest->Flush().ok());
  EXPECT_EQ(acks_.For("trm_1").size(), 1u);
  EXPECT_TRUE(acks_.For("trm_2").empty()) << "a deferred batch is never acked";
  // Room again once the first one committed: the terminal's resend is taken.
  ingest->Queue("trm_2", Batch("trm_2", 1, 1, 3, env_.Now()));
  ASSERT_TRUE(ingest->Flush().ok());
  ASSERT_EQ(acks_.For("trm_2").size(), 1u);
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_2")[0]), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Stored(store_), 6u);
}

TEST_F(TxnIngestOnFakes, AFailedCommitIsRetriedAfterItsBackoffInOrderAndAckedOnce) {
  FlakyTransactions flaky(store_, 2);
  TxnIngestOptions o;
  o.writers = 1;
  o.retry = absl::Milliseconds(200);
  auto ingest = Ingest(flaky, o);
  ingest->Start();
  ingest->Queue("trm_1", Batch("trm_1", 1, 1, 2, env_.Now()));
  ingest->Queue("trm_1", Batch("trm_1", 2, 3, 2, env_.Now()));

  // The first try fails; the writer waits 200 ms of simulated time, then 400 ms.
  ASSERT_TRUE(testing::WaitFor([&] { return flaky.calls() == 1 && env_.waiting() == 1; }));
  env_.Advance(absl::Milliseconds(199));
  ASSERT_TRUE(env_.AwaitWaiting(1));
  EXPECT_EQ(flaky.calls(), 1) << "retried before its backoff";
  env_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(testing::WaitFor([&] { return flaky.calls() == 2 && env_.waiting() == 1; }));
  env_.Advance(absl::Milliseconds(399));
  ASSERT_TRUE(env_.AwaitWaiting(1));
  EXPECT_EQ(flaky.calls(), 2) << "the backoff did not double";
  EXPECT_EQ(acks_.Messages(), 0u) << "nothing is acked while commits fail";
  env_.Advance(absl::Milliseconds(1));

  ASSERT_TRUE(testing::WaitFor([&] { return acks_.Messages() == 1; }));
  ingest->Stop();
  EXPECT_EQ(CommittedSeqs(acks_.For("trm_1")[0]), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Stored(store_), 4u);
  EXPECT_EQ(counters_.Get("posfleet_txn_commit_failures_total", ""), 2);
}

TEST_F(TxnIngestOnFakes, StopCommitsAndAcksWhatAlreadyArrived) {
  TxnIngestOptions o;
  o.writers = 1;
  auto ingest = Ingest(store_, o);
  ingest->Queue("trm_1", Batch("trm_1", 1, 1, 2, env_.Now()));  // not started: nobody writes
  ingest->Stop();
  ASSERT_EQ(acks_.For("trm_1").size(), 1u);
  EXPECT_EQ(Stored(store_), 2u);
}

// Config reports only; every other call is not part of what PresenceIngest may use.
class ConfigReports final : public core::ConfigRepository {
 public:
  absl::Status ApplyConfigReports(const std::vector<core::ConfigReportIn>& reports) override {
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    for (const auto& r : reports) applied_.push_back(r.terminal_id);
    return absl::OkStatus();
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  std::vector<std::string> applied() {
    absl::MutexLock lock(&mu_);
    return applied_;
  }

  absl::StatusOr<core::ConfigHead> LoadConfig(const core::Scope&, absl::string_view,
                                              int64_t) override {
    return Unused();
  }
  absl::StatusOr<core::ConfigCommit> CommitConfig(const core::Scope&, absl::string_view,
                                                  const core::ConfigChange&, bool, size_t,
                                                  core::AuditEntry) override {
    return Unused();
  }
  absl::StatusOr<core::Slice<core::ConfigRevision>> ListConfigRevisions(
      const core::Scope&, absl::string_view, const core::Window&) override {
    return Unused();
  }
  absl::StatusOr<int64_t> RefreshDesiredConfig() override { return Unused(); }
  absl::StatusOr<std::vector<core::ConfigClaim>> ClaimUnpublishedConfig(size_t,
                                                                        absl::Duration) override {
    return Unused();
  }
  absl::Status FinishConfigClaims(const std::vector<std::string>&,
                                  const std::vector<core::PublishedSet>&) override {
    return Unused();
  }
  absl::StatusOr<core::TerminalConfigStatus> GetTerminalConfig(const core::Scope&,
                                                               absl::string_view) override {
    return Unused();
  }
  absl::StatusOr<core::Slice<core::TerminalConfigStatus>> ListConfigDrift(
      const core::Scope&, absl::string_view, std::optional<core::SyncState>,
      const core::Window&) override {
    return Unused();
  }
  absl::StatusOr<core::ConfigSyncCounts> CountConfigSync(const core::Scope&,
                                                         absl::string_view) override {
    return Unused();
  }
  absl::StatusOr<core::ResealResult> ResealConfigSecrets(const core::ResealFn&,
                                                         core::AuditEntry) override {
    return Unused();
  }

 private:
  static absl::Status Unused() {
    ADD_FAILURE() << "PresenceIngest called a configuration method other than its reports";
    return absl::UnimplementedError("not used by PresenceIngest");
  }
  absl::Mutex mu_;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> applied_ ABSL_GUARDED_BY(mu_);
};

class PresenceIngestOnFakes : public ::testing::Test {
 protected:
  PresenceIngestOnFakes() : store_(env_) { AddActiveTerminals(store_, {"trm_1", "trm_2"}); }

  bool Online(const std::string& id) {
    auto t = store_.GetTerminal({}, id);
    return t.ok() && t->presence && t->presence->online;
  }

  SimulatedEnv env_;
  MemoryStore store_;
  ConfigReports config_;
  Counters counters_;
};

TEST_F(PresenceIngestOnFakes, WhileTheDatabaseIsAwayPresenceWaitsWithTheConfigReports) {
  PresenceIngestOptions o;
  o.history_every = core::kNoHistory;
  PresenceIngest ingest(store_, config_, counters_, env_, o);
  config_.Fail(absl::UnavailableError("database unavailable: connection lost"));
  ingest.Queue(core::StatusReport{"trm_1", true, 1, "1.0"}, std::nullopt,
               core::ConfigReportIn{"trm_1", 1, "h", true, ""});
  EXPECT_FALSE(ingest.Flush().ok());
  EXPECT_FALSE(Online("trm_1"));

  config_.Fail(absl::OkStatus());
  ASSERT_TRUE(ingest.Flush().ok());
  EXPECT_TRUE(Online("trm_1")) << "the status queued while the database was away was lost";
  EXPECT_EQ(config_.applied(), std::vector<std::string>{"trm_1"});
}

TEST_F(PresenceIngestOnFakes, AReportTheDatabaseRefusesForGoodIsDroppedAndPresenceGoesOn) {
  PresenceIngest ingest(store_, config_, counters_, env_, {});
  config_.Fail(absl::InvalidArgumentError("bad report"));
  ingest.Queue(core::StatusReport{"trm_1", true, 1, "1.0"}, std::nullopt,
               core::ConfigReportIn{"trm_1", 1, "h", true, ""});
  ASSERT_TRUE(ingest.Flush().ok());
  EXPECT_TRUE(Online("trm_1"));
  EXPECT_EQ(counters_.Get("posfleet_config_reports_dropped_total", ""), 1);
  config_.Fail(absl::OkStatus());
  ASSERT_TRUE(ingest.Flush().ok());
  EXPECT_TRUE(config_.applied().empty()) << "a dropped report came back";
}

TEST_F(PresenceIngestOnFakes, TheLoopWritesEveryFlushIntervalOfSimulatedTime) {
  PresenceIngestOptions o;
  o.flush_interval = absl::Milliseconds(200);
  PresenceIngest ingest(store_, config_, counters_, env_, o);
  ingest.Start();
  ASSERT_TRUE(env_.AwaitWaiting(1));
  ingest.Queue(core::StatusReport{"trm_2", true, 1, "1.0"}, std::nullopt, std::nullopt);
  env_.Advance(absl::Milliseconds(199));
  ASSERT_TRUE(env_.AwaitWaiting(1));
  EXPECT_FALSE(Online("trm_2")) << "written before the flush interval";
  env_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(testing::WaitFor([&] { return Online("trm_2"); }));
  ingest.Stop();
}

TEST_F(PresenceIngestOnFakes, HeldHeartbeatsAreBoundedOldestFirst) {
  PresenceIngestOptions o;
  o.max_pending = 2;
  o.history_every = core::kNoHistory;
  PresenceIngest ingest(store_, config_, counters_, env_, o);
  for (int i = 0; i < 5; ++i) {
    ingest.Queue(std::nullopt, core::HealthReport{"trm_1", 1, {}}, std::nullopt);
  }
  EXPECT_EQ(counters_.Get("posfleet_link_heartbeats_dropped_total", ""), 3);
  ASSERT_TRUE(ingest.Flush().ok());
  EXPECT_EQ(counters_.Get("posfleet_link_heartbeats_applied_total", ""), 2);
}

}  // namespace
}  // namespace posfleet::link

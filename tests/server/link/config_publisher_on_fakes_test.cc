// The config publisher on the in-memory repositories with simulated time: what it sends, that it
// sends each set once when the database fails between the broker and the record, and that a
// broker taking nothing leaves nothing claimed. The same publisher against PostgreSQL and a
// dropped connection is tests/server/link/config_publisher_test.cc.

#include <gtest/gtest.h>

#include <map>

#include "common/metrics.h"
#include "common/random.h"
#include "posfleet/v1/config.pb.h"
#include "server/core/config_registry.h"
#include "server/link/config_publisher.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"

namespace posfleet::link {
namespace {

using core::ConfigRepository;
using testing::MemoryStore;
using testing::SimulatedEnv;

// The fake, with FinishConfigClaims failing the next `fail_finishes` times, as a database that
// went away after the broker took a batch.
class FlakyRecords final : public ConfigRepository {
 public:
  explicit FlakyRecords(MemoryStore& store) : s_(store) {}
  int fail_finishes = 0;

  absl::StatusOr<core::ConfigHead> LoadConfig(const core::Scope& scope, absl::string_view tenant,
                                              int64_t revision) override {
    return s_.LoadConfig(scope, tenant, revision);
  }
  absl::StatusOr<core::ConfigCommit> CommitConfig(const core::Scope& scope,
                                                  absl::string_view tenant,
                                                  const core::ConfigChange& change, bool dry_run,
                                                  size_t sample, core::AuditEntry audit) override {
    return s_.CommitConfig(scope, tenant, change, dry_run, sample, std::move(audit));
  }
  absl::StatusOr<core::Slice<core::ConfigRevision>> ListConfigRevisions(
      const core::Scope& scope, absl::string_view tenant, const core::Window& window) override {
    return s_.ListConfigRevisions(scope, tenant, window);
  }
  absl::StatusOr<int64_t> RefreshDesiredConfig() override { return s_.RefreshDesiredConfig(); }
  absl::StatusOr<std::vector<core::ConfigClaim>> ClaimUnpublishedConfig(
      size_t limit, absl::Duration lease) override {
    return s_.ClaimUnpublishedConfig(limit, lease);
  }
  absl::Status FinishConfigClaims(const std::vector<std::string>& claimed,
                                  const std::vector<core::PublishedSet>& published) override {
    if (fail_finishes > 0) {
      --fail_finishes;
      return absl::UnavailableError("connection to the database lost");
    }
    return s_.FinishConfigClaims(claimed, published);
  }
  absl::Status ApplyConfigReports(const std::vector<core::ConfigReportIn>& reports) override {
    return s_.ApplyConfigReports(reports);
  }
  absl::StatusOr<core::TerminalConfigStatus> GetTerminalConfig(const core::Scope& scope,
                                                               absl::string_view id) override {
    return s_.GetTerminalConfig(scope, id);
  }
  absl::StatusOr<core::Slice<core::TerminalConfigStatus>> ListConfigDrift(
      const core::Scope& scope, absl::string_view tenant, std::optional<core::SyncState> state,
      const core::Window& window) override {
    return s_.ListConfigDrift(scope, tenant, state, window);
  }
  absl::StatusOr<core::ConfigSyncCounts> CountConfigSync(const core::Scope& scope,
                                                         absl::string_view tenant) override {
    return s_.CountConfigSync(scope, tenant);
  }
  absl::StatusOr<core::ResealResult> ResealConfigSecrets(const core::ResealFn& reseal,
                                                         core::AuditEntry audit) override {
    return s_.ResealConfigSecrets(reseal, std::move(audit));
  }

 private:
  MemoryStore& s_;
};

class PublisherOnFakes : public ::testing::Test {
 protected:
  PublisherOnFakes()
      : env_(absl::FromCivil(absl::CivilSecond(2026, 12, 1, 9, 0, 0), absl::UTCTimeZone())),
        store_(env_),
        flaky_(store_),
        box_(*SecretBox::FromKey(std::string(32, '\x05'))),
        registry_(store_, store_, store_, store_, &box_) {
    tenant_ = store_.CreateTenant({NewId("ten"), "Acquirer", {}, {}}, {})->id;
    const std::string merchant =
        store_.CreateMerchant({NewId("mer"), tenant_, "shop", "000001", "", {}, {}}, {})->id;
    for (int i = 0; i < 5; ++i) {
      core::Terminal spec;
      spec.id = NewId("trm");
      spec.merchant_id = merchant;
      spec.vendor = "PAX";
      spec.model = "A920";
      spec.serial = absl::StrCat("S", i);
      spec.state = core::TerminalState::kActive;
      ids_.push_back(store_.CreateTerminal({}, spec, {})->id);
    }
    core::SchemaChange schema;
    ParamSpec header;
    header.key = "receipt.header";
    header.default_value = "Thank you";
    ParamSpec password;
    password.key = "host.password";
    password.secret = true;
    schema.upsert = {header, password};
    EXPECT_TRUE(registry_.UpdateSchema(op_, tenant_, schema, {}).ok());
    core::ValueChange secret;
    secret.set["host.password"] = "s3cret-value";
    EXPECT_TRUE(registry_.SetValues(op_, tenant_, secret, {}).ok());
  }

  // A publisher whose broker takes what `take` says, recording every message it was given.
  std::unique_ptr<ConfigPublisher> Publisher(
      size_t batch, std::function<bool()> take = [] { return true; }) {
    ConfigPublisherOptions options;
    options.batch = batch;
    options.claim_lease = absl::Seconds(90);
    return std::make_unique<ConfigPublisher>(
        flaky_,
        [this, take](const std::vector<std::pair<std::string, std::string>>& messages,
                     absl::Duration) {
          std::vector<bool> out;
          absl::MutexLock lock(&mu_);
          for (const auto& [topic, payload] : messages) {
            const bool taken = take();
            if (taken) sent_[topic].push_back(payload);
            out.push_back(taken);
          }
          return out;
        },
        &box_, counters_, env_, options);
  }

  std::map<std::string, int> SentCounts() {
    absl::MutexLock lock(&mu_);
    std::map<std::string, int> out;
    for (const auto& [topic, payloads] : sent_) out[topic] = static_cast<int>(payloads.size());
    return out;
  }

  std::map<std::string, int> Once() {
    std::map<std::string, int> out;
    for (const std::string& id : ids_) out[absl::StrCat("posfleet/v1/t/", id, "/down/config")] = 1;
    return out;
  }

  SimulatedEnv env_;
  MemoryStore store_;
  FlakyRecords flaky_;
  SecretBox box_;
  core::ConfigRegistry registry_;
  core::Actor op_{"tok_op", "op", core::Role::kOperator, ""};
  std::string tenant_;
  std::vector<std::string> ids_;
  Counters counters_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::string>> sent_ ABSL_GUARDED_BY(mu_);
};

TEST_F(PublisherOnFakes, EachTerminalGetsItsResolvedSetOnceWithItsSecretOpened) {
  auto publisher = Publisher(/*batch=*/2);  // three batches, overlapping claims and sends
  auto n = publisher->RunOnce(false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5);
  EXPECT_EQ(SentCounts(), Once());
  EXPECT_EQ(store_.UnpublishedConfigCount(), 0);
  EXPECT_EQ(store_.ClaimedConfigCount(), 0);

  absl::MutexLock lock(&mu_);
  v1::ConfigSet set;
  ASSERT_TRUE(
      set.ParseFromString(sent_[absl::StrCat("posfleet/v1/t/", ids_[0], "/down/config")][0]));
  EXPECT_EQ(set.terminal_id(), ids_[0]);
  EXPECT_EQ(set.revision(), 2u);
  EXPECT_EQ(set.hash(), store_.GetTerminalConfig({}, ids_[0])->desired_hash);
  std::map<std::string, std::string> values;
  for (const auto& p : set.params()) values[p.spec().key()] = p.value();
  EXPECT_EQ(values["receipt.header"], "Thank you");
  EXPECT_EQ(values["host.password"], "s3cret-value");  // for this terminal's topic only
  EXPECT_FALSE(set.hash_key().empty());
}

TEST_F(PublisherOnFakes, WhatWentOutButWasNotRecordedIsRecordedFirstNotSentAgain) {
  auto publisher = Publisher(/*batch=*/10);
  flaky_.fail_finishes = 1;
  EXPECT_FALSE(publisher->RunOnce(false).ok());  // the broker took all; the record failed
  EXPECT_EQ(SentCounts(), Once());
  EXPECT_EQ(store_.UnpublishedConfigCount(), 5);
  // Long enough for the claims to lapse: without the record first, the rows would be claimed
  // and sent again.
  env_.Advance(absl::Minutes(5));
  auto n = publisher->RunOnce(false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(SentCounts(), Once());
  EXPECT_EQ(store_.UnpublishedConfigCount(), 0);
  EXPECT_EQ(store_.ClaimedConfigCount(), 0);
}

TEST_F(PublisherOnFakes, ABrokerThatTakesNothingLeavesNothingClaimedAndTheNextPassSendsAll) {
  bool up = false;
  auto publisher = Publisher(/*batch=*/2, [&] { return up; });
  auto n = publisher->RunOnce(false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(store_.ClaimedConfigCount(), 0);  // the claim made ahead went back too
  EXPECT_EQ(store_.UnpublishedConfigCount(), 5);
  EXPECT_EQ(counters_.Get("posfleet_config_publishes_total", "result=\"failed\""), 2);
  up = true;
  n = publisher->RunOnce(false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5);
  EXPECT_EQ(SentCounts(), Once());
}

TEST_F(PublisherOnFakes, AStaleRowWaitsForTheRefreshAndOnlyChangedTerminalsGoOutAgain) {
  auto publisher = Publisher(/*batch=*/10);
  ASSERT_TRUE(publisher->RunOnce(false).ok());
  ASSERT_TRUE(registry_.SetGroup(op_, tenant_, "north", "zone=north", 1, {}).ok());
  core::ValueChange group;
  group.kind = core::LayerKind::kGroup;
  group.id = "north";
  group.set["receipt.header"] = "Moin";
  ASSERT_TRUE(registry_.SetValues(op_, tenant_, group, {}).ok());
  // A change for every terminal, then one of them relabelled into the group before the refresh:
  // its claimed row's hash is of its old labels, so what it resolves to now is not sent.
  core::ValueChange tenant;
  tenant.set["receipt.header"] = "Hi";
  ASSERT_TRUE(registry_.SetValues(op_, tenant_, tenant, {}).ok());
  ASSERT_TRUE(store_
                  .UpdateTerminal({}, ids_[1],
                                  [](core::Terminal& t) -> absl::StatusOr<std::string> {
                                    t.labels["zone"] = "north";
                                    return std::string("relabelled");
                                  },
                                  {})
                  .ok());
  auto n = publisher->RunOnce(false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(counters_.Get("posfleet_config_publishes_total", "result=\"stale\""), 1);
  EXPECT_EQ(store_.ClaimedConfigCount(), 0);
  n = publisher->RunOnce(true);  // the refresh recomputes it
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  std::map<std::string, int> twice = Once();
  for (auto& [topic, count] : twice) count = 2;
  EXPECT_EQ(SentCounts(), twice);
  absl::MutexLock lock(&mu_);
  v1::ConfigSet set;
  ASSERT_TRUE(
      set.ParseFromString(sent_[absl::StrCat("posfleet/v1/t/", ids_[1], "/down/config")][1]));
  std::map<std::string, std::string> values;
  for (const auto& p : set.params()) values[p.spec().key()] = p.value();
  EXPECT_EQ(values["receipt.header"], "Moin");
}

}  // namespace
}  // namespace posfleet::link

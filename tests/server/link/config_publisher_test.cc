// The config publisher against a real PostgreSQL: what it publishes, it publishes once, even when
// the database drops every connection while the broker is being waited for (a failover), because
// no transaction that may be retried contains the publish (issue 17).

#include "server/link/config_publisher.h"

#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

class ConfigPublisherTest : public ::testing::Test {
 protected:
  ConfigPublisherTest() {
    tenant_ = h_.CreateTenant("acme").id();
    const std::string merchant = h_.CreateMerchant(tenant_, "M1").id();
    for (int i = 0; i < 30; ++i) {
      ids_.push_back(h_.CreateTerminal(h_.admin, merchant, absl::StrCat("SN", i)).id());
    }
    h_.MarkActive(ids_);
    v1::UpdateSchemaRequest schema;
    schema.set_tenant_id(tenant_);
    v1::ParamSpec* spec = schema.add_upsert();
    spec->set_key("receipt.header");
    spec->set_type(v1::PARAM_TYPE_STRING);
    spec->set_default_value("Thank you");
    v1::ConfigChangeResult r;
    EXPECT_TRUE(h_.config->UpdateSchema(ApiHarness::As(h_.admin).get(), schema, &r).ok());
  }

  // Ends every other session of the database, as a failover does.
  void DropConnections() {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }

  int64_t Unpublished() {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    return txn
        .exec(
            "SELECT count(*) FROM terminal_config "
            "WHERE published_hash IS DISTINCT FROM desired_hash")[0][0]
        .as<int64_t>();
  }

  int64_t Claimed() {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    return txn.exec("SELECT count(*) FROM terminal_config WHERE claim_until IS NOT NULL")[0][0]
        .as<int64_t>();
  }

  ApiHarness h_;
  std::string tenant_;
  std::vector<std::string> ids_;
  Counters counters_;
};

TEST_F(ConfigPublisherTest, ASetIsPublishedOnceThoughTheDatabaseDropsEveryConnectionMeanwhile) {
  std::map<std::string, int> sent;  // topic -> times published
  int calls = 0;
  link::ConfigPublisherOptions options;
  options.batch = 10;  // several claims, each dropped in the middle
  link::ConfigPublisher publisher(
      *h_.store,
      [&](const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration) {
        ++calls;
        for (const auto& [topic, payload] : messages) ++sent[topic];
        DropConnections();  // while "waiting for the broker"
        return std::vector<bool>(messages.size(), true);
      },
      nullptr, counters_, RealEnv(), options);
  // A drop can also hit the claim made while the broker is waited for, or the recording of
  // what went out: that pass fails, and the next one goes on where it stopped, sending nothing
  // twice. Each pass's publish drops the connections again.
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  int passes = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       Unpublished() > 0 && absl::Now() < deadline; ++passes) {
    (void)publisher.RunOnce(/*refresh=*/false);
  }
  EXPECT_EQ(Claimed(), 0) << "after " << passes << " passes";
  EXPECT_GE(calls, 3);
  ASSERT_EQ(sent.size(), ids_.size());
  for (const std::string& id : ids_) {
    EXPECT_EQ(sent[absl::StrCat("posfleet/v1/t/", id, "/down/config")], 1) << id;
  }
  EXPECT_EQ(Unpublished(), 0);
  // Nothing is left to publish, and nothing goes out again.
  absl::StatusOr<int64_t> again = publisher.RunOnce(/*refresh=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(calls, 3);
}

// A set the broker did not take is released at once and goes out on the next pass; one another
// replica claimed is not published here until its claim expires.
TEST_F(ConfigPublisherTest, AFailedPublishIsRetriedAndAClaimedRowIsLeftAlone) {
  bool broker_up = false;
  int published = 0;
  link::ConfigPublisher publisher(
      *h_.store,
      [&](const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration) {
        if (broker_up) published += static_cast<int>(messages.size());
        return std::vector<bool>(messages.size(), broker_up);
      },
      nullptr, counters_, RealEnv());
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  {
    // "Another replica" holds a claim on the first terminal.
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec_params(
        "UPDATE terminal_config SET claim_until = now() + interval '1 hour' WHERE terminal_id = $1",
        ids_[0]);
  }
  EXPECT_EQ(*publisher.RunOnce(false), 0);
  EXPECT_EQ(Unpublished(), 30);
  broker_up = true;
  EXPECT_EQ(*publisher.RunOnce(false), 29);
  EXPECT_EQ(published, 29);
  EXPECT_EQ(Unpublished(), 1);
  {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec_params(
        "UPDATE terminal_config SET claim_until = now() - interval '1 second' "
        "WHERE terminal_id = $1",
        ids_[0]);
  }
  EXPECT_EQ(*publisher.RunOnce(false), 1);
  EXPECT_EQ(Unpublished(), 0);
}

// The next batch is claimed while the broker takes the current one. When the broker takes
// nothing, the pass stops, and the batch it had claimed ahead is released with the one that
// failed: nothing waits out a claim's lease, and the next pass sends everything.
TEST_F(ConfigPublisherTest, ABrokerThatTakesNothingLeavesNoRowClaimed) {
  bool broker_up = false;
  std::map<std::string, int> sent;  // topic -> times taken
  link::ConfigPublisherOptions options;
  options.batch = 10;
  link::ConfigPublisher publisher(
      *h_.store,
      [&](const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration) {
        if (broker_up) {
          for (const auto& [topic, payload] : messages) ++sent[topic];
        }
        return std::vector<bool>(messages.size(), broker_up);
      },
      nullptr, counters_, RealEnv(), options);
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  absl::StatusOr<int64_t> down = publisher.RunOnce(false);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(*down, 0);
  EXPECT_EQ(Claimed(), 0);
  EXPECT_EQ(Unpublished(), 30);
  broker_up = true;
  absl::StatusOr<int64_t> up = publisher.RunOnce(false);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(*up, 30);
  EXPECT_EQ(sent.size(), 30u);
  for (const auto& [topic, times] : sent) EXPECT_EQ(times, 1) << topic;
  EXPECT_EQ(Claimed(), 0);
  EXPECT_EQ(Unpublished(), 0);
  EXPECT_GT(counters_.Get("posfleet_config_publish_step_microseconds_total", "step=\"claim\""), 0);
}

}  // namespace
}  // namespace posfleet

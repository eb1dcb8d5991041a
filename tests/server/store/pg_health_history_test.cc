// The health history on a real PostgreSQL: sampling, listing, and the daily partitions' upkeep
// (created ahead, dropped past the retention, one replica at a time), driven by simulated dates.

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/time/civil_time.h"
#include "common/random.h"
#include "server/store/migrator.h"
#include "server/store/pg_store.h"
#include "tests/support/test_postgres.h"

namespace posfleet::store {
namespace {

using testing::TestPostgres;

absl::Time Utc(int y, int m, int d, int h = 0) {
  return absl::FromCivil(absl::CivilHour(y, m, d, h), absl::UTCTimeZone());
}

class PgHealthHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestPostgres::Get().CreateDatabase();
    ASSERT_TRUE(MigrateUp(url_, EmbeddedMigrations()).ok());
    pool_ = std::make_unique<PgPool>(testing::RuntimeUrl(url_), 2);  // as the server runs
    store_ = std::make_unique<PgStore>(*pool_);
    tenant_ = NewTerminalIn("acme", &terminal_);
  }

  // A tenant with one merchant and one terminal; returns the tenant id.
  std::string NewTerminalIn(const std::string& tenant_name, std::string* terminal_id) {
    core::AuditEntry audit;
    audit.actor_id = "tok_test";
    audit.method = "test";
    auto tenant = store_->CreateTenant({NewId("ten"), tenant_name, {}, {}}, audit);
    EXPECT_TRUE(tenant.ok()) << tenant.status();
    auto merchant =
        store_->CreateMerchant({NewId("mer"), tenant->id, "m", "M1", "", {}, {}}, audit);
    EXPECT_TRUE(merchant.ok()) << merchant.status();
    core::Terminal t;
    t.id = NewId("trm");
    t.merchant_id = merchant->id;
    t.vendor = "PAX";
    t.model = "A920";
    t.serial = "S-" + tenant_name;
    t.state = core::TerminalState::kActive;  // the link accepts only active terminals
    auto created = store_->CreateTerminal(core::Scope{}, t, audit);
    EXPECT_TRUE(created.ok()) << created.status();
    *terminal_id = created->id;
    return tenant->id;
  }

  core::HealthReport Heartbeat(int battery) {
    core::HealthReport r{terminal_, 1, {}};
    r.health.battery_percent = battery;
    r.health.paper = "ok";
    r.health.network = "4g";
    r.health.versions = {{"payment-app", "2.4.0"}};
    return r;
  }

  std::vector<int> Batteries(const core::Scope& scope, const core::Window& window,
                             std::optional<absl::Time> start = std::nullopt,
                             std::optional<absl::Time> end = std::nullopt) {
    auto slice = store_->ListHealthHistory(scope, terminal_, start, end, window);
    EXPECT_TRUE(slice.ok()) << slice.status();
    std::vector<int> out;
    if (slice.ok()) {
      for (const core::HealthSample& s : slice->items) out.push_back(s.health.battery_percent);
    }
    return out;
  }

  std::vector<std::string> Partitions() {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    std::vector<std::string> out;
    for (const auto& row :
         txn.exec("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                  "WHERE i.inhparent = 'health_history'::regclass ORDER BY 1")) {
      out.push_back(row[0].c_str());
    }
    return out;
  }

  void Sql(const std::string& sql) {
    pqxx::connection conn(url_);
    pqxx::nontransaction(conn).exec(sql);
  }

  std::string url_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgStore> store_;
  std::string tenant_, terminal_;
};

TEST_F(PgHealthHistoryTest, HeartbeatsAreSampledAtTheConfiguredInterval) {
  ASSERT_TRUE(store_->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24)).ok());
  // No history at all.
  auto w = store_->ApplyLinkReports({}, {Heartbeat(90)}, core::kNoHistory);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->samples, 0);
  // At most one sample an hour: the first heartbeat is recorded, the next one is not.
  w = store_->ApplyLinkReports({}, {Heartbeat(89)}, absl::Hours(1));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->samples, 1);
  w = store_->ApplyLinkReports({}, {Heartbeat(88)}, absl::Hours(1));
  EXPECT_EQ(w->samples, 0);
  EXPECT_EQ(Batteries({}, {0, 100}), (std::vector<int>{89}));
  // An hour later (the last record moved back, as time would have moved on): due again.
  Sql("UPDATE terminal_status SET history_time = history_time - interval '61 minutes'");
  w = store_->ApplyLinkReports({}, {Heartbeat(87)}, absl::Hours(1));
  EXPECT_EQ(w->samples, 1);
  // Zero: every heartbeat.
  w = store_->ApplyLinkReports({}, {Heartbeat(86)}, absl::ZeroDuration());
  EXPECT_EQ(w->samples, 1);
  EXPECT_EQ(Batteries({}, {0, 100}), (std::vector<int>{86, 87, 89}));
  // The live row always has the newest health, sampled or not.
  EXPECT_EQ(store_->GetTerminal({}, terminal_)->presence->health->battery_percent, 86);
}

TEST_F(PgHealthHistoryTest, ListsNewestFirstInPagesWithinARangeAndTheTenant) {
  ASSERT_TRUE(store_->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24)).ok());
  for (int battery = 1; battery <= 5; ++battery) {
    ASSERT_TRUE(store_->ApplyLinkReports({}, {Heartbeat(battery)}, absl::ZeroDuration()).ok());
  }
  auto page1 = store_->ListHealthHistory({tenant_}, terminal_, {}, {}, {0, 2});
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->items.size(), 2u);
  EXPECT_EQ(page1->items[0].health.battery_percent, 5);
  EXPECT_EQ(page1->items[0].health.versions.at("payment-app"), "2.4.0");
  EXPECT_EQ(page1->items[0].health.network, "4g");
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(Batteries({tenant_}, {page1->last, 2}), (std::vector<int>{3, 2}));

  // A time range: from the second sample (inclusive) to the fourth (exclusive).
  auto all = store_->ListHealthHistory({}, terminal_, {}, {}, {0, 100});
  ASSERT_EQ(all->items.size(), 5u);
  EXPECT_EQ(Batteries({}, {0, 100}, all->items[3].time, all->items[1].time),
            (std::vector<int>{3, 2}));

  // Another tenant's caller cannot tell the terminal exists; a terminal without samples has an
  // empty history.
  std::string other_terminal;
  const std::string other = NewTerminalIn("globex", &other_terminal);
  EXPECT_TRUE(
      absl::IsNotFound(store_->ListHealthHistory({other}, terminal_, {}, {}, {0, 10}).status()));
  auto empty = store_->ListHealthHistory({other}, other_terminal, {}, {}, {0, 10});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->items.empty());
  EXPECT_FALSE(empty->more);
}

TEST_F(PgHealthHistoryTest, PartitionsAreMadeAheadAndDroppedOnlyPastTheRetention) {
  // An operator's own partition (a month long, long ago) is none of posfleet's business.
  Sql("CREATE TABLE health_history_archive PARTITION OF health_history "
      "FOR VALUES FROM ('2031-01-01 00:00+00') TO ('2031-02-01 00:00+00')");

  auto first = store_->MaintainHealthHistory(Utc(2031, 3, 10, 9), 2, absl::Hours(72));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->skipped);
  EXPECT_EQ(first->created,
            (std::vector<std::string>{"health_history_p20310310", "health_history_p20310311",
                                      "health_history_p20310312"}));
  EXPECT_TRUE(first->dropped.empty());
  // Running again the same day changes nothing.
  auto again = store_->MaintainHealthHistory(Utc(2031, 3, 10, 23), 2, absl::Hours(72));
  EXPECT_TRUE(again->created.empty());
  EXPECT_TRUE(again->dropped.empty());

  Sql("INSERT INTO health_history SELECT '" + terminal_ +
      "', t, 1, 50, false, 30, 'ok', -70, "
      "'4g', 1, 1, '{}' FROM unnest(ARRAY['2031-03-10 12:00+00', '2031-03-11 12:00+00', "
      "'2031-03-12 12:00+00', '2031-01-15 12:00+00']::timestamptz[]) AS t");

  // On the 14th at 06:00 with three days of retention the cut-off is the 11th, 06:00: the 10th
  // has ended before it and goes; the 11th has not ended yet and stays.
  auto later = store_->MaintainHealthHistory(Utc(2031, 3, 14, 6), 2, absl::Hours(72));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->dropped, (std::vector<std::string>{"health_history_p20310310"}));
  EXPECT_EQ(later->created,
            (std::vector<std::string>{"health_history_p20310314", "health_history_p20310315",
                                      "health_history_p20310316"}));
  EXPECT_EQ(Partitions(),
            (std::vector<std::string>{"health_history_archive", "health_history_p20310311",
                                      "health_history_p20310312", "health_history_p20310314",
                                      "health_history_p20310315", "health_history_p20310316"}));
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  EXPECT_EQ(
      txn.exec("SELECT count(*) FROM health_history WHERE time < '2031-03-11'")[0][0].as<int>(),
      1);  // only the archive's row
  EXPECT_EQ(
      txn.exec("SELECT count(*) FROM health_history WHERE time >= '2031-03-11'")[0][0].as<int>(),
      2);
}

TEST_F(PgHealthHistoryTest, OneReplicaAtATimeTheOthersSkip) {
  pqxx::connection other(url_);
  pqxx::nontransaction(other).exec("SELECT pg_advisory_lock(7317003)");
  auto skipped = store_->MaintainHealthHistory(Utc(2031, 3, 10), 1, absl::Hours(24));
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_TRUE(skipped->skipped);
  EXPECT_TRUE(Partitions().empty());
  pqxx::nontransaction(other).exec("SELECT pg_advisory_unlock(7317003)");
  auto done = store_->MaintainHealthHistory(Utc(2031, 3, 10), 1, absl::Hours(24));
  EXPECT_FALSE(done->skipped);
  EXPECT_EQ(Partitions().size(), 2u);
}

TEST_F(PgHealthHistoryTest, WithoutAPartitionHistoryIsLostButPresenceIsNot) {
  // No maintenance has run: there is no partition for today.
  auto w = store_->ApplyLinkReports({{terminal_, true, 1, "0.1.0"}}, {Heartbeat(77)},
                                    absl::ZeroDuration());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->failed);
  EXPECT_EQ(w->samples, 0);
  auto t = store_->GetTerminal({}, terminal_);
  ASSERT_TRUE(t.ok() && t->presence);
  EXPECT_TRUE(t->presence->online);
  EXPECT_EQ(t->presence->health->battery_percent, 77);
  // Once the partitions exist, the next heartbeat is recorded.
  ASSERT_TRUE(store_->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24)).ok());
  w = store_->ApplyLinkReports({}, {Heartbeat(76)}, absl::ZeroDuration());
  EXPECT_EQ(w->samples, 1);
  EXPECT_FALSE(w->failed);
}

}  // namespace
}  // namespace posfleet::store

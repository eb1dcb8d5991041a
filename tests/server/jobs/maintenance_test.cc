// The maintenance job against a real PostgreSQL, on a simulated clock: days pass without waiting.

#include "server/jobs/maintenance.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "server/store/migrator.h"
#include "server/store/pg_store.h"
#include "tests/support/simulated_env.h"
#include "tests/support/test_postgres.h"

namespace posfleet::jobs {
namespace {

TEST(MaintenanceTest, KeepsAWeekAheadAndTheRetentionBehindAsDaysPass) {
  const std::string url = testing::TestPostgres::Get().CreateDatabase();
  ASSERT_TRUE(store::MigrateUp(url, store::EmbeddedMigrations()).ok());
  store::PgPool pool(testing::RuntimeUrl(url), 2);  // partition DDL as the runtime role
  store::PgStore store(pool);
  Counters counters;
  testing::SimulatedEnv env(absl::FromCivil(absl::CivilDay(2031, 5, 1), absl::UTCTimeZone()) +
                            absl::Hours(12));
  Maintenance job(store, counters, env, {absl::Hours(1), 7, absl::Hours(24 * 10)});
  auto partitions = [&] {
    pqxx::connection conn(url);
    return pqxx::nontransaction(conn).exec(
        "SELECT count(*), min(c.relname), max(c.relname) FROM pg_inherits i JOIN pg_class "
        "c ON c.oid = i.inhrelid WHERE i.inhparent = 'health_history'::regclass")[0];
  };

  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_EQ(partitions()[0].as<int>(), 8);  // today and 7 days ahead
  EXPECT_STREQ(partitions()[1].c_str(), "health_history_p20310501");
  EXPECT_STREQ(partitions()[2].c_str(), "health_history_p20310508");

  env.Advance(absl::Hours(24 * 20));  // May 21st: keep May 11th onwards (ten days)
  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_STREQ(partitions()[1].c_str(), "health_history_p20310521");  // nothing older was made
  EXPECT_STREQ(partitions()[2].c_str(), "health_history_p20310528");
  EXPECT_EQ(partitions()[0].as<int>(), 8);
  EXPECT_EQ(
      counters.Get("posfleet_maintenance_runs_total", "table=\"health_history\",result=\"ok\""), 2);
}

TEST(MaintenanceTest, KeepsTheRetainedMonthsOfTransactionsAndMonthsAhead) {
  const std::string url = testing::TestPostgres::Get().CreateDatabase();
  ASSERT_TRUE(store::MigrateUp(url, store::EmbeddedMigrations()).ok());
  store::PgPool pool(testing::RuntimeUrl(url), 2);  // partition DDL as the runtime role
  store::PgStore store(pool);
  Counters counters;
  testing::SimulatedEnv env(absl::FromCivil(absl::CivilDay(2031, 5, 15), absl::UTCTimeZone()));
  MaintenanceOptions options;
  options.health_history = false;
  options.txn_retention_months = 3;  // March, April, May
  options.months_ahead = 2;          // June, July
  Maintenance job(store, counters, env, options);
  pqxx::connection conn(url);
  auto partitions = [&] {
    return pqxx::nontransaction(conn).exec(
        "SELECT count(*), min(c.relname), max(c.relname) FROM pg_inherits i JOIN pg_class c ON "
        "c.oid = i.inhrelid WHERE i.inhparent = 'transactions'::regclass AND c.relname <> "
        "'transactions_default'")[0];
  };
  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_EQ(partitions()[0].as<int>(), 5);
  EXPECT_STREQ(partitions()[1].c_str(), "transactions_p203103");
  EXPECT_STREQ(partitions()[2].c_str(), "transactions_p203107");

  // A row in the oldest kept month, one in May, and one that fell into the default partition.
  pqxx::nontransaction(conn).exec(
      "INSERT INTO transactions (tenant_id, merchant_id, terminal_id, txn_id, seq, time, type, "
      "result, amount_minor, currency, response_code, scheme, entry_mode, masked_pan, stan, "
      "auth_code, mid, tid) SELECT 'ten', 'mer', 'trm', x, 1, t::timestamptz, 1, 1, 1, 'EUR', '', "
      "'', 0, '', '', '', '', '' FROM (VALUES ('a', '2031-03-31 23:59:59+00'), "
      "('b', '2031-05-02 00:00:00+00')) v(x, t)");
  pqxx::nontransaction(conn).exec(
      "INSERT INTO transactions_default (id, tenant_id, merchant_id, terminal_id, txn_id, seq, "
      "time, type, result, amount_minor, currency, response_code, scheme, entry_mode, masked_pan, "
      "stan, auth_code, mid, tid) VALUES (0, 'ten', 'mer', 'trm', 'old', 1, "
      "'2020-01-01 00:00:00+00', 1, 1, 1, 'EUR', '', '', 0, '', '', '', '', '')");

  // June 1st: March is past the policy and goes (with its row, to the second); April, May and
  // the months ahead stay; the default partition's expired row is deleted.
  env.Advance(absl::FromCivil(absl::CivilDay(2031, 6, 1), absl::UTCTimeZone()) - env.Now());
  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_STREQ(partitions()[1].c_str(), "transactions_p203104");
  EXPECT_STREQ(partitions()[2].c_str(), "transactions_p203108");
  pqxx::result left =
      pqxx::nontransaction(conn).exec("SELECT txn_id FROM transactions ORDER BY txn_id");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_STREQ(left[0][0].c_str(), "b");
}

}  // namespace
}  // namespace posfleet::jobs

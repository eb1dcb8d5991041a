// The maintenance job against a real PostgreSQL, on a simulated clock: days pass without waiting.

#include "server/jobs/maintenance.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "server/store/migrator.h"
#include "server/store/pg_store.h"
#include "tests/support/simulated_clock.h"
#include "tests/support/test_postgres.h"

namespace posfleet::jobs {
namespace {

TEST(MaintenanceTest, KeepsAWeekAheadAndTheRetentionBehindAsDaysPass) {
  const std::string url = testing::TestPostgres::Get().CreateDatabase();
  ASSERT_TRUE(store::MigrateUp(url, store::EmbeddedMigrations()).ok());
  store::PgPool pool(url, 2);
  store::PgStore store(pool);
  Counters counters;
  testing::SimulatedClock clock(absl::FromCivil(absl::CivilDay(2031, 5, 1), absl::UTCTimeZone()) +
                                absl::Hours(12));
  Maintenance job(store, counters, clock, {absl::Hours(1), 7, absl::Hours(24 * 10)});
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

  clock.Advance(absl::Hours(24 * 20));  // May 21st: keep May 11th onwards (ten days)
  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_STREQ(partitions()[1].c_str(), "health_history_p20310521");  // nothing older was made
  EXPECT_STREQ(partitions()[2].c_str(), "health_history_p20310528");
  EXPECT_EQ(partitions()[0].as<int>(), 8);
  EXPECT_EQ(counters.Get("posfleet_maintenance_runs_total", "result=\"ok\""), 2);
}

}  // namespace
}  // namespace posfleet::jobs

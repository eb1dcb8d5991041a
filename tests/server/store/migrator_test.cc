#include "server/store/migrator.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "tests/support/test_postgres.h"

namespace posfleet::store {
namespace {

using testing::TestPostgres;

int Count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  return pqxx::nontransaction(conn).exec(sql)[0][0].as<int>();
}

TEST(MigratorTest, AppliesOnceAndRecordsVersions) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  auto first = MigrateUp(url, EmbeddedMigrations());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->empty());
  for (const auto& m : *first) EXPECT_TRUE(m.applied_now);
  auto second = MigrateUp(url, EmbeddedMigrations());
  ASSERT_TRUE(second.ok());
  for (const auto& m : *second) EXPECT_FALSE(m.applied_now);
  EXPECT_EQ(*CurrentVersion(url), EmbeddedMigrations().back().version);
  EXPECT_EQ(Count(url, "SELECT count(*) FROM schema_migrations"),
            static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigratorTest, ReplicasStartingTogetherApplyEachMigrationOnce) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  std::vector<std::thread> replicas;
  std::atomic<int> ok{0}, applied{0};
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&] {
      auto r = MigrateUp(url, EmbeddedMigrations());
      if (!r.ok()) return;
      ++ok;
      for (const auto& m : *r) applied += m.applied_now;
    });
  }
  for (auto& t : replicas) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(applied.load(), static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigratorTest, DownMigrationsUndoEverythingAndUpWorksAgain) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  ASSERT_TRUE(MigrateUp(url, EmbeddedMigrations()).ok());
  ASSERT_TRUE(MigrateDown(url, EmbeddedMigrations(), 0).ok());
  EXPECT_EQ(*CurrentVersion(url), 0);
  EXPECT_EQ(Count(url,
                  "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                  "AND tablename <> 'schema_migrations'"),
            0);
  auto again = MigrateUp(url, EmbeddedMigrations());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*CurrentVersion(url), EmbeddedMigrations().back().version);
}

TEST(MigratorTest, RefusesAMigrationEditedAfterItWasApplied) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  ASSERT_TRUE(MigrateUp(url, EmbeddedMigrations()).ok());
  std::vector<Migration> edited = EmbeddedMigrations();
  edited.front().up += "\n-- a harmless-looking edit\n";
  auto r = MigrateUp(url, edited);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MigratorTest, UnreachableDatabaseIsUnavailable) {
  const int port = testing::FreePort();
  auto r =
      MigrateUp("postgresql://posfleet@127.0.0.1:" + std::to_string(port) + "/x?connect_timeout=2",
                EmbeddedMigrations());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace posfleet::store

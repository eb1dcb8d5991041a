// The store against a database that moves, stops and comes back. Its own test binary, because it
// stops the binary's PostgreSQL.

#include "server/store/pg_pool.h"

#include <gtest/gtest.h>

#include "server/store/migrator.h"
#include "server/store/pg_store.h"
#include "tests/support/test_postgres.h"

namespace posfleet::store {
namespace {

using testing::TestPostgres;

TEST(PgPoolTest, MultiHostUrlFindsTheWritableServer) {
  TestPostgres& pg = TestPostgres::Get();
  const std::string single = pg.CreateDatabase();
  const std::string db =
      single.substr(single.rfind('/') + 1, single.find('?') - single.rfind('/') - 1);
  // The first host is dead, as a failed-over primary would be.
  const std::string url = "postgresql://posfleet@127.0.0.1:" + std::to_string(testing::FreePort()) +
                          ",127.0.0.1:" + std::to_string(pg.port()) + "/" + db +
                          "?target_session_attrs=read-write&connect_timeout=2";
  ASSERT_TRUE(MigrateUp(url, EmbeddedMigrations()).ok());
  PgPool pool(url, 2);
  EXPECT_TRUE(pool.Ping().ok());
}

TEST(PgPoolTest, AStatementPastTheTimeoutIsCancelledAndTheConnectionStaysGood) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  PgPool pool(url, 1, absl::Milliseconds(200));
  absl::Status slow = pool.Read([](pqxx::transaction_base& txn) {
    txn.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(slow)) << slow;
  EXPECT_NE(slow.message().find("statement timeout"), std::string::npos) << slow;
  // The same (only) connection serves the next call, in a transaction too.
  EXPECT_TRUE(pool.Ping().ok());
  absl::Status in_txn = pool.Transact([](pqxx::transaction_base& txn) {
    txn.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(in_txn)) << in_txn;
  EXPECT_TRUE(pool.Ping().ok());
}

TEST(PgPoolTest, UnavailableWhileTheDatabaseIsDownAndRecoversAfter) {
  TestPostgres& pg = TestPostgres::Get();
  const std::string url = pg.CreateDatabase();
  ASSERT_TRUE(MigrateUp(url, EmbeddedMigrations()).ok());
  PgPool pool(url, 2);
  PgStore store(pool);
  ASSERT_TRUE(store.ListTenants(core::Scope{}, core::Window{}).ok());  // a pooled connection

  pg.Stop(/*crash=*/true);
  auto down = store.ListTenants(core::Scope{}, core::Window{});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  core::AuditEntry audit;
  audit.method = "CreateTenant";
  auto write = store.CreateTenant({"ten_aaaaaaaaaaaaaaaaaaaa", "x", {}, {}}, audit);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kUnavailable) << write.status();

  pg.Start();
  // The pooled connection died with the server; the pool replaces it without an error reaching
  // the caller.
  auto up = store.CreateTenant({"ten_bbbbbbbbbbbbbbbbbbbb", "y", {}, {}}, audit);
  EXPECT_TRUE(up.ok()) << up.status();
  auto list = store.ListTenants(core::Scope{}, core::Window{});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items.size(), 1u);  // the write attempted while down never happened
  EXPECT_EQ(list->items[0].name, "y");
}

}  // namespace
}  // namespace posfleet::store

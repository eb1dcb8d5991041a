// The store against a database that moves, stops and comes back. Its own test binary, because it
// stops the binary's PostgreSQL.

#include "server/store/pg_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
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

// After a failover every pooled connection is dead; the first call that finds one must not retry
// on another dead one, so the pool drops them all at once.
TEST(PgPoolTest, AfterEveryConnectionWasDroppedTheNextTransactionSucceeds) {
  const std::string url = TestPostgres::Get().CreateDatabase();
  PgPool pool(url, 4);
  // Four idle connections: hold four at once.
  absl::Mutex mu;
  int inside = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      EXPECT_TRUE(pool.Transact([&](pqxx::transaction_base& txn) {
                        txn.exec("SELECT 1");
                        absl::MutexLock lock(&mu);
                        ++inside;
                        mu.Await(absl::Condition(
                            +[](int* n) { return *n == 4; }, &inside));
                        return absl::OkStatus();
                      })
                      .ok());
    });
  }
  for (std::thread& t : threads) t.join();
  {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    EXPECT_EQ(txn.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND pid <> pg_backend_pid()")
                  .size(),
              4u);
  }
  absl::Status s = pool.Transact([](pqxx::transaction_base& txn) {
    txn.exec("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
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

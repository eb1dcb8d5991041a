// The two implementations the contract runs against.

#include <memory>

#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"
#include "tests/server/contract/contract_fixture.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"
#include "tests/support/test_postgres.h"

namespace posfleet::testing {
namespace {

template <typename Store>
class StoreBackend : public Backend {
 public:
  core::OrganisationRepository& org() override { return store(); }
  core::TerminalRepository& terminals() override { return store(); }
  core::TokenRepository& tokens() override { return store(); }
  core::AuditLog& audit() override { return store(); }
  core::PresenceRepository& presence() override { return store(); }
  core::TransactionRepository& txns() override { return store(); }
  core::EnrollmentRepository& enrollment() override { return store(); }
  core::ConfigRepository& config() override { return store(); }
  core::UnitOfWork& unit() override { return store(); }

 protected:
  virtual Store& store() = 0;
};

// Time flows as it does for the database, so rows written one after another get later times.
class MemoryBackend final : public StoreBackend<MemoryStore> {
 public:
  MemoryBackend() : env_(SimulatedEnv::Flow::kRunning), store_(env_, absl::Microseconds(1)) {}

 private:
  MemoryStore& store() override { return store_; }
  SimulatedEnv env_;
  MemoryStore store_;
};

class PostgresBackend final : public StoreBackend<store::PgStore> {
 public:
  PostgresBackend() {
    const std::string owner_url = TestPostgres::Get().CreateDatabase();
    auto migrated = store::MigrateUp(owner_url, store::EmbeddedMigrations());
    EXPECT_TRUE(migrated.ok()) << migrated.status();
    pool_ = std::make_unique<store::PgPool>(RuntimeUrl(owner_url), 2);
    store_ = std::make_unique<store::PgStore>(*pool_);
    // Today's partitions, as the server's maintenance job keeps them.
    EXPECT_TRUE(store_->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24 * 7)).ok());
    EXPECT_TRUE(store_->MaintainTransactions(absl::Now(), 1, 3).ok());
  }

 private:
  store::PgStore& store() override { return *store_; }
  std::unique_ptr<store::PgPool> pool_;
  std::unique_ptr<store::PgStore> store_;
};

}  // namespace

std::vector<BackendFactory> Backends() {
  return {{"memory", [] { return std::make_unique<MemoryBackend>(); }},
          {"postgres", [] { return std::make_unique<PostgresBackend>(); }}};
}

// Every TEST_P of the contract, in whichever file, runs once per backend.
INSTANTIATE_TEST_SUITE_P(Backends, ContractTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace posfleet::testing

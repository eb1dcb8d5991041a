#include "server/store/migrator.h"

#include <map>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "server/store/pg_pool.h"

namespace posfleet::store {
namespace {

constexpr char kLock[] = "SELECT pg_advisory_lock(7317001)";
constexpr char kUnlock[] = "SELECT pg_advisory_unlock(7317001)";
constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version int PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
constexpr char kApplied[] = "SELECT version, sha256 FROM schema_migrations ORDER BY version";
constexpr char kRecord[] =
    "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)";
constexpr char kForget[] = "DELETE FROM schema_migrations WHERE version = $1";
constexpr char kMaxVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr char kTableExists[] = "SELECT to_regclass('schema_migrations') IS NOT NULL";

// Holds the migration lock for the lifetime of a connection.
class LockedConnection {
 public:
  explicit LockedConnection(const std::string& url) : conn_(url) {
    pqxx::nontransaction(conn_).exec(kLock);
  }
  ~LockedConnection() {
    try {
      pqxx::nontransaction(conn_).exec(kUnlock);
    } catch (...) {
      // Closing the connection releases the lock anyway.
    }
  }
  pqxx::connection& conn() { return conn_; }

 private:
  pqxx::connection conn_;
};

std::map<int, std::string> Applied(pqxx::connection& conn) {
  pqxx::work txn(conn);
  txn.exec(kCreateTable);
  std::map<int, std::string> applied;
  for (const pqxx::row& row : txn.exec(kApplied)) {
    applied[row[0].as<int>()] = row[1].c_str();
  }
  txn.commit();
  return applied;
}

}  // namespace

absl::StatusOr<std::vector<AppliedMigration>> MigrateUp(const std::string& url,
                                                        const std::vector<Migration>& migrations) {
  try {
    LockedConnection locked(url);
    std::map<int, std::string> applied = Applied(locked.conn());
    std::vector<AppliedMigration> out;
    for (const Migration& m : migrations) {
      const std::string sum = Sha256Hex(m.up);
      auto it = applied.find(m.version);
      if (it != applied.end()) {
        if (it->second != sum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", m.version, " (", m.name,
              ") differs from the one applied to this database; migrations must never be "
              "edited once landed: add a new one"));
        }
        out.push_back({m.version, m.name, false});
        continue;
      }
      pqxx::work txn(locked.conn());
      txn.exec(m.up);
      txn.exec_params(kRecord, m.version, m.name, sum);
      txn.commit();
      spdlog::info("applied migration {:06d}_{}", m.version, m.name);
      out.push_back({m.version, m.name, true});
    }
    const int newest_known = migrations.empty() ? 0 : migrations.back().version;
    if (!applied.empty() && applied.rbegin()->first > newest_known) {
      spdlog::warn("database schema is at version {}, newer than this binary's {}",
                   applied.rbegin()->first, newest_known);
    }
    return out;
  } catch (...) {
    return StatusFromCurrentException();
  }
}

absl::Status MigrateDown(const std::string& url, const std::vector<Migration>& migrations,
                         int target_version) {
  try {
    LockedConnection locked(url);
    std::map<int, std::string> applied = Applied(locked.conn());
    for (auto it = migrations.rbegin(); it != migrations.rend(); ++it) {
      if (it->version <= target_version || !applied.contains(it->version)) continue;
      pqxx::work txn(locked.conn());
      txn.exec(it->down);
      txn.exec_params(kForget, it->version);
      txn.commit();
      spdlog::info("reverted migration {:06d}_{}", it->version, it->name);
    }
    return absl::OkStatus();
  } catch (...) {
    return StatusFromCurrentException();
  }
}

absl::StatusOr<int> CurrentVersion(const std::string& url) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    if (!txn.exec(kTableExists)[0][0].as<bool>()) return 0;
    return txn.exec(kMaxVersion)[0][0].as<int>();
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace posfleet::store

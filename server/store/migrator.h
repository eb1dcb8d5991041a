#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace posfleet::store {

// One schema change, from migrations/NNNNNN_title.{up,down}.sql (compiled into the binary, so a
// server and its schema always travel together).
struct Migration {
  int version = 0;
  std::string name;
  std::string up;
  std::string down;
};

// The migrations compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

struct AppliedMigration {
  int version = 0;
  std::string name;
  bool applied_now = false;
};

// Applies pending migrations to the database at `url`, each in its own transaction, under a
// session advisory lock so that replicas starting together apply each migration exactly once.
// FailedPrecondition if an applied migration's text differs from the embedded one (migrations are
// never edited once landed). Returns the state of every known migration.
absl::StatusOr<std::vector<AppliedMigration>> MigrateUp(const std::string& url,
                                                        const std::vector<Migration>& migrations);

// Reverts applied migrations newer than `target_version`, newest first.
absl::Status MigrateDown(const std::string& url, const std::vector<Migration>& migrations,
                         int target_version);

// The highest applied version, 0 on an empty database.
absl::StatusOr<int> CurrentVersion(const std::string& url);

}  // namespace posfleet::store

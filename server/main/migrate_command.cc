#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/main/commands.h"
#include "server/main/setup.h"
#include "server/store/migrator.h"

namespace posfleet::server {

int MigrateCommand(const Flags& flags) {
  if (flags.migrate_status) {
    auto version = store::CurrentVersion(MigrationUrl(flags));
    if (!version.ok()) {
      std::cerr << "migrate status: " << version.status().ToString() << "\n";
      return 1;
    }
    const auto& all = store::EmbeddedMigrations();
    std::cout << "database at version " << *version << "; this binary knows up to "
              << (all.empty() ? 0 : all.back().version) << "\n";
    return 0;
  }
  absl::Status s =
      flags.down_to >= 0
          ? store::MigrateDown(MigrationUrl(flags), store::EmbeddedMigrations(), flags.down_to)
          : Migrate(flags);
  if (!s.ok()) {
    std::cerr << "migrate: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace posfleet::server

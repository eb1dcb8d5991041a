#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/secret_box.h"
#include "common/status_macros.h"
#include "server/main/commands.h"
#include "server/main/setup.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"

namespace posfleet::server {

// Key rotation: reseals every stored secret parameter value, in every revision of every tenant,
// with --params-key-file, opening them with it or a --params-retired-key-file.
int ParamsResealCommand(const Flags& flags) {
  absl::StatusOr<std::optional<SecretBox>> box = LoadParamsBox(flags);
  if (!box.ok() || !*box) {
    std::cerr << "params-reseal: "
              << (box.ok() ? "--params-key-file is required" : box.status().ToString()) << "\n";
    return 2;
  }
  if (absl::Status s = Migrate(flags); !s.ok()) {
    std::cerr << "params-reseal: " << s.ToString() << "\n";
    return 1;
  }
  store::PgPool pool(flags.db_url, 2);
  store::PgStore store(pool);
  const SecretBox& b = **box;
  core::AuditEntry audit;
  audit.actor_id = "posfleet-server";
  audit.actor_name = "params-reseal";
  audit.role = core::Role::kAdmin;
  audit.method = "posfleet-server params-reseal";
  audit.target_type = "config";
  absl::StatusOr<core::ResealResult> r = store.ResealConfigSecrets(
      [&b](const std::string& sealed) { return b.Reseal(sealed); }, audit);
  if (!r.ok()) {
    std::cerr << "params-reseal: " << r.status().ToString()
              << " (nothing of that tenant changed; is a retired key missing?)\n";
    return 1;
  }
  std::cout << "resealed " << r->values << " secret value(s) in " << r->revisions
            << " revision(s) of " << r->tenants
            << " tenant(s); every stored secret now opens with the current key\n";
  return 0;
}

}  // namespace posfleet::server

#pragma once

// What several subcommands of posfleet-server do first: reach and migrate the database, open the
// parameter key, load the fleet CA, create the first admin token.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/pki.h"
#include "common/secret_box.h"
#include "server/core/store.h"
#include "server/main/flags.h"

namespace posfleet::server {

// The box for secret parameters: the current key and any retired ones (a rotation in progress).
// nullopt without --params-key-file.
absl::StatusOr<std::optional<SecretBox>> LoadParamsBox(const Flags& flags);

// The role migrations run as: the schema's owner.
const std::string& MigrationUrl(const Flags& flags);

// Waits (up to --db-wait, backing off) for the database to accept connections and applies
// pending migrations.
absl::Status Migrate(const Flags& flags);

// Creates the first global admin token if there is none: from POSFLEET_BOOTSTRAP_TOKEN when set,
// otherwise a fresh one, printed once (or written to --bootstrap-token-file, mode 0600).
absl::Status Bootstrap(core::Store& store, const Flags& flags);

// The fleet CA: from --ca-cert/--ca-key when given (a secret store's files), otherwise the one in
// the database, created by the first replica that starts.
absl::StatusOr<pki::CertAndKey> LoadCa(core::Store& store, const Flags& flags);

}  // namespace posfleet::server

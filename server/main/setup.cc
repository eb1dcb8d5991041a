#include "server/main/setup.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/core/token_registry.h"
#include "server/store/migrator.h"

namespace posfleet::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::optional<SecretBox>> LoadParamsBox(const Flags& flags) {
  if (flags.params_key_file.empty()) {
    if (!flags.params_retired_key_files.empty()) {
      return absl::InvalidArgumentError("--params-retired-key-file needs --params-key-file");
    }
    return std::optional<SecretBox>();
  }
  absl::StatusOr<SecretBox> box = SecretBox::FromFile(flags.params_key_file);
  if (!box.ok()) {
    return absl::Status(box.status().code(),
                        absl::StrCat("--params-key-file: ", box.status().message()));
  }
  for (const std::string& path : flags.params_retired_key_files) {
    if (absl::Status s = box->AddRetiredKeyFile(path); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--params-retired-key-file: ", s.message()));
    }
  }
  return std::optional<SecretBox>(*std::move(box));
}

const std::string& MigrationUrl(const Flags& flags) {
  return flags.owner_db_url.empty() ? flags.db_url : flags.owner_db_url;
}

absl::Status Migrate(const Flags& flags) {
  Env& env = RealEnv();
  const absl::Time deadline = env.Now() + absl::Seconds(flags.db_wait_seconds);
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    auto applied = store::MigrateUp(MigrationUrl(flags), store::EmbeddedMigrations());
    if (applied.ok()) {
      int fresh = 0;
      for (const auto& m : *applied) fresh += m.applied_now;
      spdlog::info("schema at version {} ({} migration(s) applied now)",
                   applied->empty() ? 0 : applied->back().version, fresh);
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(applied.status()) || env.Now() + backoff > deadline) {
      return applied.status();
    }
    spdlog::info("waiting for the database: {}", applied.status().message());
    env.SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status Bootstrap(core::Store& store, const Flags& flags) {
  const char* env = std::getenv("POSFLEET_BOOTSTRAP_TOKEN");
  core::TokenRegistry tokens(store, store);
  auto secret = tokens.Bootstrap(env ? env : "");
  if (!secret.ok()) return secret.status();
  if (secret->empty()) {
    if (env) {
      spdlog::info("a global admin token exists already; POSFLEET_BOOTSTRAP_TOKEN was not stored");
    }
    return absl::OkStatus();
  }
  if (env) {
    spdlog::info("created the first global admin token from POSFLEET_BOOTSTRAP_TOKEN");
    return absl::OkStatus();
  }
  if (!flags.bootstrap_token_file.empty()) {
    const mode_t old = umask(077);
    std::ofstream out(flags.bootstrap_token_file, std::ios::trunc);
    umask(old);
    out << *secret << "\n";
    if (!out) return absl::InvalidArgumentError("--bootstrap-token-file: cannot write");
    spdlog::info("created the first global admin token; written to {}", flags.bootstrap_token_file);
    return absl::OkStatus();
  }
  std::cout << "posfleet-server: created the first global admin token. It is shown only once:\n"
            << "  " << *secret << "\n"
            << std::flush;
  return absl::OkStatus();
}

absl::StatusOr<pki::CertAndKey> LoadCa(core::Store& store, const Flags& flags) {
  if (!flags.ca_cert.empty()) {
    pki::CertAndKey ca;
    ASSIGN_OR_RETURN(ca.cert_pem, ReadFile("--ca-cert", flags.ca_cert));
    ASSIGN_OR_RETURN(ca.key_pem, ReadFile("--ca-key", flags.ca_key));
    if (!pki::InspectCert(ca.cert_pem).ok()) {
      return absl::InvalidArgumentError("--ca-cert: not a PEM certificate");
    }
    return ca;
  }
  ASSIGN_OR_RETURN(pki::CertAndKey fresh,
                   pki::CreateCa("posfleet fleet CA", absl::Hours(24 * 3650)));
  return store.LoadOrStoreCa(fresh);
}

}  // namespace posfleet::server

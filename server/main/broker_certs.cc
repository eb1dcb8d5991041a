#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/pki.h"
#include "common/status_macros.h"
#include "server/main/commands.h"
#include "server/main/setup.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"

namespace posfleet::server {

// Writes what a deployment needs from the fleet CA: ca.pem, broker.pem/.key (the broker's server
// certificate for --san names), crl.pem, posfleet-server.pem/.key (the server's own MQTT client
// identity) and api.pem/.key (a server certificate for the gRPC listener, for the same names: a
// terminal provisioned with ca.pem authenticates the server it enrolls with).
int BrokerCertsCommand(const Flags& flags) {
  if (absl::Status s = Migrate(flags); !s.ok()) {
    std::cerr << "broker-certs: " << s.ToString() << "\n";
    return 1;
  }
  store::PgPool pool(flags.db_url, 2);
  store::PgStore store(pool);
  auto ca = LoadCa(store, flags);
  if (!ca.ok()) {
    std::cerr << "broker-certs: " << ca.status().ToString() << "\n";
    return 1;
  }
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = flags.certs_out + "/" + name;
    const mode_t old = umask(0777 & ~mode);
    std::ofstream out(path, std::ios::trunc);
    umask(old);
    out << text;
    return static_cast<bool>(out);
  };
  auto issue = [&](const std::string& cn, pki::Usage usage, const std::vector<std::string>& sans,
                   const std::string& name) -> absl::Status {
    ASSIGN_OR_RETURN(std::string key, pki::NewPrivateKey());
    ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key, cn));
    ASSIGN_OR_RETURN(pki::Issued cert,
                     pki::SignCsr(*ca, csr, cn, absl::Hours(24 * 365), usage, sans));
    if (!write(name + ".pem", cert.cert_pem, 0644) || !write(name + ".key", key, 0600)) {
      return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", name));
    }
    return absl::OkStatus();
  };
  auto revoked = store.RevokedCertificates();
  absl::StatusOr<std::string> crl =
      revoked.ok() ? pki::MakeCrl(*ca, *revoked, absl::Hours(24)) : revoked.status();
  absl::Status s = crl.status();
  if (s.ok() && !write("ca.pem", ca->cert_pem, 0644)) s = absl::InvalidArgumentError("--out");
  if (s.ok() && !write("crl.pem", *crl, 0644)) s = absl::InvalidArgumentError("--out");
  if (s.ok()) s = issue("broker", pki::Usage::kServer, flags.broker_sans, "broker");
  if (s.ok()) s = issue("posfleet-server", pki::Usage::kClient, {}, "posfleet-server");
  if (s.ok()) s = issue("posfleet-api", pki::Usage::kServer, flags.broker_sans, "api");
  if (!s.ok()) {
    std::cerr << "broker-certs: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << "wrote ca.pem, crl.pem, broker.pem/.key, posfleet-server.pem/.key, api.pem/.key to "
            << flags.certs_out << "\n";
  return 0;
}

}  // namespace posfleet::server

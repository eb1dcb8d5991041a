#pragma once

#include <string>
#include <vector>

#include "common/pki.h"

namespace posfleet::testing {

// Files of a client certificate made for a test.
struct ClientCert {
  std::string cert_file;
  std::string key_file;
  std::string serial;
};

// A real Mosquitto broker for one test binary, configured from deploy/mosquitto/ through
// tools/lib/mosquitto-local (the script tools/demo uses): a fresh fleet CA, a broker certificate
// for 127.0.0.1, an empty CRL, a free port, a temp dir; stopped and removed at destruction.
class TestBroker {
 public:
  TestBroker();
  ~TestBroker();

  // "ssl://127.0.0.1:PORT"
  std::string address() const;
  const pki::CertAndKey& ca() const { return ca_; }
  std::string ca_file() const { return dir_ + "/certs/ca.pem"; }

  // A client certificate with CN `common_name` signed by `ca` (the fleet CA by default).
  ClientCert Issue(const std::string& common_name, const pki::CertAndKey* ca = nullptr);

  // Adds `serial` to the CRL and makes the broker re-read it.
  void Revoke(const std::string& serial);

 private:
  std::string dir_;
  int port_ = 0;
  int issued_ = 0;
  pki::CertAndKey ca_;
  std::vector<pki::Revoked> revoked_;
};

}  // namespace posfleet::testing

#pragma once

#include <mqtt/client.h>

#include <memory>
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
  // With `ca`, the broker trusts that fleet CA (e.g. the one an ApiHarness signs with).
  explicit TestBroker(const pki::CertAndKey* ca = nullptr);
  ~TestBroker();

  // "ssl://127.0.0.1:PORT"
  std::string address() const;
  const pki::CertAndKey& ca() const { return ca_; }
  std::string ca_file() const { return dir_ + "/certs/ca.pem"; }
  std::string crl_file() const { return dir_ + "/certs/crl.pem"; }
  std::string pid_file() const { return dir_ + "/mosquitto.pid"; }

  // A connected MQTT 3.1.1 client over mutual TLS (no client certificate when `cert` is empty).
  // Throws mqtt::exception when the broker refuses. A `callback` is installed before connecting:
  // Paho C++ 1.2 can deadlock when set_callback meets an arriving message on a live client.
  std::unique_ptr<mqtt::client> Connect(const ClientCert& cert, const std::string& client_id,
                                        int timeout_seconds = 5,
                                        mqtt::callback* callback = nullptr) const;

  // A client certificate with CN `common_name` signed by `ca` (the fleet CA by default); with
  // kServer, a server-only certificate (to prove it cannot log in).
  // `not_before` as pki::SignCsr takes it (a renewed certificate starts later).
  ClientCert Issue(const std::string& common_name, const pki::CertAndKey* ca = nullptr,
                   pki::Usage usage = pki::Usage::kClient,
                   absl::Time not_before = absl::InfinitePast());
  // The broker's own certificate and key.
  ClientCert broker_cert() const {
    return {dir_ + "/certs/broker.pem", dir_ + "/certs/broker.key", ""};
  }

  // Adds `serial` to the CRL and makes the broker re-read it.
  void Revoke(const std::string& serial);

  // Stops the broker (its clients see the connection drop) and starts it again on the same port,
  // with the same certificates and data.
  void Stop();
  void Start();

 private:
  std::string dir_;
  int port_ = 0;
  int issued_ = 0;
  pki::CertAndKey ca_;
  std::vector<pki::Revoked> revoked_;
};

}  // namespace posfleet::testing

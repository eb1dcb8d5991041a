#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/state_dir.h"

namespace posfleet::agent {

struct EnrollmentClientOptions {
  std::string server;     // posfleet-server's terminal listener (--device-listen)
  std::string server_ca;  // PEM bundle the server's TLS certificate must chain to
  std::string fleet_ca;   // PEM bundle of acceptable fleet CAs; empty: those of server_ca
  bool insecure_plaintext_for_development = false;
  std::string vendor;
  std::string serial;
};

// A certificate the server issued at renewal, checked (agent/enrollment_trust.h).
struct Renewed {
  std::string certificate_pem;
  std::string ca_pem;
};

// The agent's calls to the server's EnrollmentService: Enroll with an activation code and
// RenewCertificate with proof of the current key. Every answer is checked before it is returned
// (CheckIssued: a fleet CA the terminal trusts, a certificate for its own key and id), so a
// relay or a rogue server cannot hand the terminal a broker of its own. Nothing is stored here:
// the agent keeps what it gets in its state directory. Errors are the server's status codes
// (UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are worth a retry, see Transient).
class EnrollmentClient {
 public:
  explicit EnrollmentClient(EnrollmentClientOptions options);

  // Reads the server CA and the fleet CAs; InvalidArgument naming the flag if one is missing or
  // holds no certificate. Call once before Enroll or Renew.
  absl::Status LoadTrust();

  // Enrolls under `key_pem` (made on the terminal) with `activation_code`.
  absl::StatusOr<Identity> Enroll(const std::string& key_pem, const std::string& activation_code);
  // Renews `current` with a new key, `key_pem`, signing the request with the current key.
  absl::StatusOr<Renewed> Renew(const Identity& current, const std::string& key_pem);

 private:
  std::shared_ptr<grpc::Channel> Channel() const;

  const EnrollmentClientOptions options_;
  std::string server_ca_pem_;
  std::vector<std::string> trusted_fleet_cas_;  // DER
};

// Whether a failed call is worth retrying later (the server was unreachable, slow, or asks to
// come back) rather than a refusal that only a person can fix.
bool Transient(const absl::Status& s);

}  // namespace posfleet::agent

#include "agent/enrollment_trust.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/mqtt_connection.h"
#include "common/pki.h"

namespace posfleet::agent {
namespace {

absl::Status Refuse(absl::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("the server's answer is not trusted: ", why));
}

}  // namespace

absl::Status CheckIssued(const v1::EnrollResponse& resp, const std::string& key_pem,
                         const std::vector<std::string>& trusted_fleet_cas,
                         absl::string_view terminal_id) {
  absl::StatusOr<std::vector<std::string>> ca = pki::CertificatesDer(resp.ca_pem());
  if (!ca.ok() || ca->size() != 1) return Refuse("the fleet CA is not one certificate");
  if (!trusted_fleet_cas.empty() && std::find(trusted_fleet_cas.begin(), trusted_fleet_cas.end(),
                                              ca->front()) == trusted_fleet_cas.end()) {
    return Refuse("it names a fleet CA this terminal was not provisioned with");
  }
  absl::StatusOr<pki::CertInfo> cert = pki::InspectCert(resp.certificate_pem(), resp.ca_pem());
  if (!cert.ok()) return Refuse("the certificate is not signed by the fleet CA");
  absl::StatusOr<std::string> own = pki::KeyPublicSha256(key_pem);
  if (!own.ok() || cert->public_key_sha256 != *own) {
    return Refuse("the certificate is not for this terminal's key");
  }
  if (resp.terminal_id().empty() || cert->common_name != resp.terminal_id()) {
    return Refuse("the certificate does not name the terminal id");
  }
  if (!terminal_id.empty() && resp.terminal_id() != terminal_id) {
    return Refuse("it names another terminal");
  }
  std::string host;
  int port = 0;
  if (!ParseBrokerAddress(resp.broker_address(), &host, &port).ok() ||
      (resp.broker_address().rfind("ssl://", 0) != 0 &&
       resp.broker_address().rfind("mqtts://", 0) != 0)) {
    return Refuse("the broker address is not ssl://host:port");
  }
  return absl::OkStatus();
}

}  // namespace posfleet::agent

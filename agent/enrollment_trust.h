#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "posfleet/v1/enrollment.pb.h"

namespace posfleet::agent {

// What an agent checks in an Enroll or RenewCertificate answer before it keeps anything. The
// channel is TLS to a server whose certificate chains to a CA provisioned on the terminal, and the
// answer must also be consistent with what the terminal already trusts:
//   - the fleet CA it returns is one the terminal was provisioned with (`trusted_fleet_cas`, DER;
//     empty only in the development mode without TLS, where nothing is checked here);
//   - the certificate is signed by that CA, for this terminal's own key (`key_pem`), with the
//     returned terminal id as its CN (and, at renewal, `terminal_id` the one it already has);
//   - the broker address parses as ssl://host:port.
// A relay or a rogue server can therefore not hand the terminal a CA, and with it a broker, of
// its own. Errors are PERMISSION_DENIED, saying which check failed.
absl::Status CheckIssued(const v1::EnrollResponse& resp, const std::string& key_pem,
                         const std::vector<std::string>& trusted_fleet_cas,
                         absl::string_view terminal_id = "");

}  // namespace posfleet::agent

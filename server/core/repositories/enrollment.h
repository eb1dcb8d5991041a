#pragma once

// Activation codes, certificates, the fleet CA and the broker disconnects of state changes.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/pki.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

// A request to close a terminal's live broker connection.
struct LinkDisconnect {
  std::string terminal_id;
  int64_t request_micros = 0;  // when it was made (identifies the request)
  bool retired = false;        // the terminal is retired (not only suspended)
};

class EnrollmentRepository {
 public:
  virtual ~EnrollmentRepository() = default;

  // Enrollment.
  //
  // Stores the hash of a new activation code for a terminal in scope, replacing any earlier one,
  // valid for `ttl` from the database's now; returns the expiry. FailedPrecondition if the
  // terminal is retired or suspended.
  virtual absl::StatusOr<absl::Time> StoreActivationCode(const Scope& scope,
                                                         absl::string_view terminal_id,
                                                         absl::string_view code_hash,
                                                         absl::Duration ttl, AuditEntry audit) = 0;
  // Called under the terminal's row lock with the terminal the code belongs to; returns the
  // certificate to record, or an error that rolls everything back.
  using CertificateIssuer = std::function<absl::StatusOr<pki::Issued>(const Terminal&)>;
  // Redeems a one-time code in one transaction: reads the code and locks its terminal
  // (Unauthenticated if the code is unknown), lets core::DecideRedemption (core/lifecycle.h)
  // decide, and carries the decision out. To issue: calls `issue`, then marks the code used,
  // revokes the terminal's earlier certificates, records the new one, makes the terminal active
  // and writes `audit`. To replay (a used code presented with the key of the certificate it
  // produced: the agent retrying after a lost response): sets `replayed` to that certificate,
  // issues nothing and says so in `audit`. A mismatch of vendor or serial counts one more failure
  // against the code, committed though the call fails. As soon as the terminal is known, `audit`
  // names it and its tenant, so a failure can be audited fully.
  virtual absl::StatusOr<Terminal> RedeemActivationCode(
      absl::string_view code_hash, absl::string_view vendor, absl::string_view serial,
      absl::string_view public_key_sha256, const CertificateIssuer& issue,
      std::optional<pki::Issued>& replayed, AuditEntry& audit) = 0;
  // Renews a terminal's certificate in one transaction: locks the terminal (Unauthenticated if it
  // does not exist; FailedPrecondition if retired), checks that `current_serial` is a certificate
  // of this terminal that is not revoked (Unauthenticated otherwise), then, if a live certificate
  // for `public_key_sha256` exists already (a renewal retried after a lost response), sets
  // `replayed` to it; otherwise calls `issue` and records its certificate. Writes `audit`, whose
  // target and tenant are filled in as soon as the terminal is known.
  virtual absl::StatusOr<Terminal> RenewCertificate(absl::string_view terminal_id,
                                                    absl::string_view current_serial,
                                                    absl::string_view public_key_sha256,
                                                    const CertificateIssuer& issue,
                                                    std::optional<pki::Issued>& replayed,
                                                    AuditEntry& audit) = 0;
  // Revokes every live certificate of the terminal and returns how many; no audit entry of its
  // own (it is part of a change the caller audits, such as retiring the terminal, in one unit of
  // work).
  virtual absl::StatusOr<int> RevokeCertificates(absl::string_view terminal_id) = 0;
  // The stored fleet CA; if there is none yet, stores `candidate` and returns it. Replicas that
  // start together all end up with the same CA.
  virtual absl::StatusOr<pki::CertAndKey> LoadOrStoreCa(const pki::CertAndKey& candidate) = 0;
  // Every revoked certificate that has not expired yet (what a CRL must list).
  virtual absl::StatusOr<std::vector<pki::Revoked>> RevokedCertificates() = 0;
  // Terminals whose live broker connection must be closed (suspended or retired since), oldest
  // first, at most `limit`. Written in the transaction of the state change.
  virtual absl::StatusOr<std::vector<LinkDisconnect>> PendingLinkDisconnects(size_t limit) = 0;
  // Forgets the requests `done` (a request made again since is kept).
  virtual absl::Status CompleteLinkDisconnects(const std::vector<LinkDisconnect>& done) = 0;
};

}  // namespace posfleet::core

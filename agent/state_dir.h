#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace posfleet::agent {

// What enrollment gave this terminal.
struct Identity {
  std::string terminal_id;
  std::string certificate_pem;
  std::string key_pem;  // made on the terminal; never sent anywhere
  std::string ca_pem;
  std::string broker_address;
};

// The agent's state directory: key.pem (0600), cert.pem, ca.pem, identity (terminal id and
// broker) and the session counter; pending-key.pem and renew-key.pem (0600) while an enrollment
// or a renewal is under way. Every file is replaced atomically (write, fsync, rename, fsync the
// directory), so a power cut leaves either the old or the new version, never half of one; a cut in
// the middle of switching to a renewed certificate is completed at the next LoadIdentity.
class StateDir {
 public:
  explicit StateDir(std::string path) : path_(std::move(path)) {}

  // Creates the directory if needed and sets it to mode 0700, or 0710 of `group` (whose members
  // may then reach the local API's socket inside, and nothing else).
  absl::Status Init(std::optional<gid_t> group = std::nullopt);
  // The saved identity, nullopt if the terminal has not enrolled; DataLoss if files are corrupt.
  absl::StatusOr<std::optional<Identity>> LoadIdentity();
  // Saves an enrolled identity and forgets the pending enrollment key.
  absl::Status SaveIdentity(const Identity& identity);
  // The key to enroll with: made once and kept (0600) until enrollment succeeds, so that a retry
  // after a lost response asks for the certificate of the same key.
  absl::StatusOr<std::string> PendingKey();
  // The new key to renew with, kept the same way until the renewal is saved.
  absl::StatusOr<std::string> PendingRenewalKey();
  // Switches to the certificate renewed for PendingRenewalKey: ca.pem, cert.pem, then key.pem.
  // Returns the identity now in force.
  absl::StatusOr<Identity> SaveRenewed(const std::string& certificate_pem,
                                       const std::string& ca_pem);
  // Increments and persists the session counter; returns the new value (1 on first use).
  absl::StatusOr<uint64_t> NextSession();

  // A file of the directory, replaced atomically (write, fsync, rename, fsync the directory);
  // nullopt when it does not exist. For the agent's other state (config.pb).
  absl::Status WriteAtomically(const std::string& name, const std::string& data, int mode);
  absl::StatusOr<std::optional<std::string>> Read(const std::string& name);

  std::string cert_file() const { return path_ + "/cert.pem"; }
  std::string key_file() const { return path_ + "/key.pem"; }
  std::string ca_file() const { return path_ + "/ca.pem"; }

 private:
  absl::StatusOr<std::string> KeptKey(const std::string& name);
  absl::Status Remove(const std::string& name);
  // Completes or discards a renewal that a power cut interrupted (see SaveRenewed).
  absl::Status RecoverRenewal();

  const std::string path_;
};

}  // namespace posfleet::agent

#pragma once

// What a terminal trusts for software (issue 18, docs/software.md): the current root, the counter
// of each package it runs, and the assignment it holds. All of it lives in the state directory
// (trust-root, software-state) and is replaced atomically, and only after every check on the new
// version passed, so a kill -9 or a power cut at any point leaves the old state or the new one,
// never one that skipped a check.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/state_dir.h"
#include "common/release_trust.h"
#include "posfleet/v1/release.pb.h"

namespace posfleet::agent {

class SoftwareTrust {
 public:
  // Loads what `dir` keeps. Without a root there, `provisioned_root` (the bytes of the file
  // given with --trust-root, or what enrolment brought) becomes the anchor and is kept; a root
  // already kept wins over it, since it may be newer. FailedPrecondition with neither; DataLoss
  // if the kept files are unreadable.
  static absl::StatusOr<SoftwareTrust> Open(StateDir& dir, std::string terminal_id,
                                            std::optional<std::string> provisioned_root);

  // Moves to the next root (exactly the next version, signed by the old and the new root keys)
  // and keeps it.
  absl::Status UpdateRoot(const std::string& next_root);

  // Verifies an assignment for this terminal and keeps it if it is newer than the one held.
  absl::StatusOr<v1::Assignment> Accept(const std::string& assignment, absl::Time now);

  // The release the held assignment names, if it may be installed now: the release (and the
  // downgrade authorisation, if one is given) verify against the root, and trust::
  // CheckInstallable holds against the counter kept for the release's name.
  absl::StatusOr<v1::ReleaseMetadata> Approve(const std::string& release,
                                              const std::string* downgrade,
                                              const std::string& hardware_model,
                                              absl::Time now) const;

  // After an install was verified: the package's counter becomes `counter`.
  absl::Status RecordInstalled(const std::string& name, uint64_t counter);

  const trust::TrustedRoot& root() const { return root_; }
  uint64_t installed_counter(const std::string& name) const;
  std::optional<v1::Assignment> held() const;

 private:
  SoftwareTrust(StateDir& dir, std::string terminal_id, trust::TrustedRoot root,
                v1::KeptSoftwareState state)
      : dir_(&dir),
        terminal_id_(std::move(terminal_id)),
        root_(std::move(root)),
        state_(std::move(state)) {}
  absl::Status Keep(const v1::KeptSoftwareState& state);

  StateDir* dir_;
  std::string terminal_id_;
  trust::TrustedRoot root_;
  v1::KeptSoftwareState state_;
};

}  // namespace posfleet::agent

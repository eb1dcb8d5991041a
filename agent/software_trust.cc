#include "agent/software_trust.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace posfleet::agent {
namespace {

constexpr char kRootFile[] = "trust-root";
constexpr char kStateFile[] = "software-state";

}  // namespace

absl::StatusOr<SoftwareTrust> SoftwareTrust::Open(StateDir& dir, std::string terminal_id,
                                                  std::optional<std::string> provisioned_root) {
  ASSIGN_OR_RETURN(std::optional<std::string> kept, dir.Read(kRootFile));
  std::optional<trust::TrustedRoot> root;
  if (kept) {
    // Kept only after it verified; checked again, so a file changed on the device is noticed.
    absl::StatusOr<trust::TrustedRoot> r = trust::TrustedRoot::FromAnchor(*kept);
    if (!r.ok()) {
      return absl::DataLossError(absl::StrCat("the kept trust root: ", r.status().message()));
    }
    root = *std::move(r);
  } else if (provisioned_root) {
    absl::StatusOr<trust::TrustedRoot> r = trust::TrustedRoot::FromAnchor(*provisioned_root);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("the provisioned trust root: ", r.status().message()));
    }
    RETURN_IF_ERROR(dir.WriteAtomically(kRootFile, r->envelope_bytes(), 0644));
    root = *std::move(r);
  } else {
    return absl::FailedPreconditionError(
        "no trust root: provision one (--trust-root) or enrol to receive it");
  }
  v1::KeptSoftwareState state;
  ASSIGN_OR_RETURN(std::optional<std::string> kept_state, dir.Read(kStateFile));
  if (kept_state && !state.ParseFromString(*kept_state)) {
    return absl::DataLossError("the kept software state is unreadable");
  }
  return SoftwareTrust(dir, std::move(terminal_id), *std::move(root), std::move(state));
}

absl::Status SoftwareTrust::Keep(const v1::KeptSoftwareState& state) {
  RETURN_IF_ERROR(dir_->WriteAtomically(kStateFile, state.SerializeAsString(), 0644));
  state_ = state;
  return absl::OkStatus();
}

absl::Status SoftwareTrust::UpdateRoot(const std::string& next_root) {
  ASSIGN_OR_RETURN(trust::TrustedRoot next, root_.Next(next_root));
  RETURN_IF_ERROR(dir_->WriteAtomically(kRootFile, next.envelope_bytes(), 0644));
  root_ = std::move(next);
  return absl::OkStatus();
}

absl::StatusOr<v1::Assignment> SoftwareTrust::Accept(const std::string& assignment,
                                                     absl::Time now) {
  ASSIGN_OR_RETURN(v1::Assignment a, root_.VerifyAssignment(assignment, now));
  if (a.terminal_id() != terminal_id_) {
    return absl::PermissionDeniedError(
        absl::StrCat("the assignment is for terminal ", a.terminal_id(), ", not this one"));
  }
  if (state_.has_assignment()) RETURN_IF_ERROR(trust::CheckNewer(state_.assignment(), a));
  v1::KeptSoftwareState next = state_;
  *next.mutable_assignment() = a;
  RETURN_IF_ERROR(Keep(next));
  return a;
}

absl::StatusOr<v1::ReleaseMetadata> SoftwareTrust::Approve(const std::string& release,
                                                           const std::string* downgrade,
                                                           const std::string& hardware_model,
                                                           absl::Time now) const {
  if (!state_.has_assignment()) {
    return absl::FailedPreconditionError("no assignment is held");
  }
  ASSIGN_OR_RETURN(v1::ReleaseMetadata r, root_.VerifyRelease(release, now));
  std::optional<v1::DowngradeAuthorization> allow;
  if (downgrade != nullptr) {
    ASSIGN_OR_RETURN(allow, root_.VerifyDowngrade(*downgrade, now));
  }
  const trust::Device device{terminal_id_, hardware_model, installed_counter(r.name())};
  RETURN_IF_ERROR(
      trust::CheckInstallable(state_.assignment(), r, device, allow ? &*allow : nullptr));
  return r;
}

absl::Status SoftwareTrust::RecordInstalled(const std::string& name, uint64_t counter) {
  v1::KeptSoftwareState next = state_;
  (*next.mutable_installed_counters())[name] = counter;
  return Keep(next);
}

uint64_t SoftwareTrust::installed_counter(const std::string& name) const {
  auto it = state_.installed_counters().find(name);
  return it == state_.installed_counters().end() ? 0 : it->second;
}

std::optional<v1::Assignment> SoftwareTrust::held() const {
  if (!state_.has_assignment()) return std::nullopt;
  return state_.assignment();
}

}  // namespace posfleet::agent

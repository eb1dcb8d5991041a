#include "agent/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/pki.h"
#include "common/status_macros.h"

namespace posfleet::agent {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status StateDir::Init(std::optional<gid_t> group) {
  if (mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir " + path_);
  // The directory holds the terminal's private key, its identity and the outbox (transaction
  // ids, masked card numbers): this user's alone. One that already exists more open is tightened;
  // one that is not ours, or not a directory, is refused rather than used. With a group for the
  // local API, its members may enter (0710) to reach the socket, and still list and read nothing.
  struct stat st;
  if (lstat(path_.c_str(), &st) != 0) return Errno("stat " + path_);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("state dir ", path_, ": not a directory (a symbolic link is refused too)"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat("state dir ", path_, ": owned by uid ",
                                                      st.st_uid, ", not by this user (uid ",
                                                      geteuid(), ")"));
  }
  if (group && st.st_gid != *group && chown(path_.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state dir ", path_, ": cannot give it to group ", *group, ": ", std::strerror(errno)));
  }
  const mode_t mode = group ? 0710 : 0700;
  if ((st.st_mode & 0777) != mode && chmod(path_.c_str(), mode) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("state dir ", path_, ": cannot be set to mode 0", group ? 710 : 700, ": ",
                     std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status StateDir::WriteAtomically(const std::string& name, const std::string& data, int mode) {
  return WriteFileAtomically(path_ + "/" + name, data, mode);
}

absl::StatusOr<std::optional<std::string>> StateDir::Read(const std::string& name) {
  std::ifstream in(path_ + "/" + name, std::ios::binary);
  if (!in) return std::optional<std::string>();
  std::stringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>(ss.str());
}

absl::StatusOr<std::optional<Identity>> StateDir::LoadIdentity() {
  RETURN_IF_ERROR(RecoverRenewal());
  Identity id;
  ASSIGN_OR_RETURN(std::optional<std::string> identity, Read("identity"));
  if (!identity) return std::optional<Identity>();
  std::vector<std::string> lines = absl::StrSplit(*identity, '\n', absl::SkipEmpty());
  if (lines.size() != 2) return absl::DataLossError("state dir: identity file is corrupt");
  id.terminal_id = lines[0];
  id.broker_address = lines[1];
  for (auto [name, field] : {std::pair{"cert.pem", &id.certificate_pem},
                             std::pair{"key.pem", &id.key_pem}, std::pair{"ca.pem", &id.ca_pem}}) {
    ASSIGN_OR_RETURN(std::optional<std::string> text, Read(name));
    if (!text || text->empty()) {
      return absl::DataLossError(absl::StrCat("state dir: ", name, " is missing"));
    }
    *field = *std::move(text);
  }
  return std::optional<Identity>(std::move(id));
}

absl::Status StateDir::SaveIdentity(const Identity& id) {
  // Key and certificates first; the identity file last marks the set complete.
  RETURN_IF_ERROR(WriteAtomically("key.pem", id.key_pem, 0600));
  RETURN_IF_ERROR(WriteAtomically("cert.pem", id.certificate_pem, 0644));
  RETURN_IF_ERROR(WriteAtomically("ca.pem", id.ca_pem, 0644));
  RETURN_IF_ERROR(WriteAtomically(
      "identity", absl::StrCat(id.terminal_id, "\n", id.broker_address, "\n"), 0644));
  return Remove("pending-key.pem");
}

absl::StatusOr<std::string> StateDir::KeptKey(const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<std::string> existing, Read(name));
  if (existing && !existing->empty()) return *std::move(existing);
  ASSIGN_OR_RETURN(std::string key, pki::NewPrivateKey());
  RETURN_IF_ERROR(WriteAtomically(name, key, 0600));
  return key;
}

absl::StatusOr<std::string> StateDir::PendingKey() { return KeptKey("pending-key.pem"); }

absl::StatusOr<std::string> StateDir::PendingRenewalKey() { return KeptKey("renew-key.pem"); }

absl::Status StateDir::Remove(const std::string& name) {
  const std::string file = path_ + "/" + name;
  if (unlink(file.c_str()) != 0 && errno != ENOENT) return Errno("unlink " + file);
  return absl::OkStatus();
}

absl::StatusOr<Identity> StateDir::SaveRenewed(const std::string& certificate_pem,
                                               const std::string& ca_pem) {
  ASSIGN_OR_RETURN(std::optional<std::string> key, Read("renew-key.pem"));
  if (!key) return absl::FailedPreconditionError("state dir: no renewal under way");
  // Until key.pem is replaced, renew-key.pem holds the key of the new cert.pem; RecoverRenewal
  // finishes the switch if the power goes in between.
  RETURN_IF_ERROR(WriteAtomically("ca.pem", ca_pem, 0644));
  RETURN_IF_ERROR(WriteAtomically("cert.pem", certificate_pem, 0644));
  RETURN_IF_ERROR(WriteAtomically("key.pem", *key, 0600));
  RETURN_IF_ERROR(Remove("renew-key.pem"));
  ASSIGN_OR_RETURN(std::optional<Identity> id, LoadIdentity());
  if (!id) return absl::DataLossError("state dir: identity file is missing");
  return *std::move(id);
}

absl::Status StateDir::RecoverRenewal() {
  ASSIGN_OR_RETURN(std::optional<std::string> renew_key, Read("renew-key.pem"));
  if (!renew_key) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<std::string> cert, Read("cert.pem"));
  ASSIGN_OR_RETURN(std::optional<std::string> key, Read("key.pem"));
  if (!cert || !key) return absl::OkStatus();              // not enrolled: nothing to recover
  if (*key == *renew_key) return Remove("renew-key.pem");  // switched; only the cleanup was cut
  absl::StatusOr<pki::CertInfo> info = pki::InspectCert(*cert);
  absl::StatusOr<std::string> renewed = pki::KeyPublicSha256(*renew_key);
  if (info.ok() && renewed.ok() && info->public_key_sha256 == *renewed) {
    // cert.pem is the renewed certificate but key.pem is still the old key: finish the switch.
    RETURN_IF_ERROR(WriteAtomically("key.pem", *renew_key, 0600));
    return Remove("renew-key.pem");
  }
  return absl::OkStatus();  // a renewal still to be asked for (or retried): keep its key
}

absl::StatusOr<uint64_t> StateDir::NextSession() {
  ASSIGN_OR_RETURN(std::optional<std::string> text, Read("session"));
  uint64_t session = 0;
  if (text && !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &session)) {
    return absl::DataLossError("state dir: session file is corrupt");
  }
  ++session;
  RETURN_IF_ERROR(WriteAtomically("session", absl::StrCat(session, "\n"), 0644));
  return session;
}

}  // namespace posfleet::agent

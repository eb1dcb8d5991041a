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
#include "common/pki.h"

namespace posfleet::agent {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status StateDir::Init() {
  if (mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir " + path_);
  return absl::OkStatus();
}

absl::Status StateDir::WriteAtomically(const std::string& name, const std::string& data, int mode) {
  const std::string target = path_ + "/" + name;
  const std::string tmp = target + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("open " + tmp);
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      close(fd);
      return Errno("write " + tmp);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) return Errno("fsync " + tmp);
  if (rename(tmp.c_str(), target.c_str()) != 0) return Errno("rename " + tmp);
  const int dir = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> StateDir::Read(const std::string& name) {
  std::ifstream in(path_ + "/" + name, std::ios::binary);
  if (!in) return std::optional<std::string>();
  std::stringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>(ss.str());
}

absl::StatusOr<std::optional<Identity>> StateDir::LoadIdentity() {
  Identity id;
  auto identity = Read("identity");
  if (!identity.ok()) return identity.status();
  if (!*identity) return std::optional<Identity>();
  std::vector<std::string> lines = absl::StrSplit(**identity, '\n', absl::SkipEmpty());
  if (lines.size() != 2) return absl::DataLossError("state dir: identity file is corrupt");
  id.terminal_id = lines[0];
  id.broker_address = lines[1];
  for (auto [name, field] : {std::pair{"cert.pem", &id.certificate_pem},
                             std::pair{"key.pem", &id.key_pem}, std::pair{"ca.pem", &id.ca_pem}}) {
    auto text = Read(name);
    if (!text.ok()) return text.status();
    if (!*text || (*text)->empty()) {
      return absl::DataLossError(absl::StrCat("state dir: ", name, " is missing"));
    }
    *field = **text;
  }
  return std::optional<Identity>(std::move(id));
}

absl::Status StateDir::SaveIdentity(const Identity& id) {
  // Key and certificates first; the identity file last marks the set complete.
  if (absl::Status s = WriteAtomically("key.pem", id.key_pem, 0600); !s.ok()) return s;
  if (absl::Status s = WriteAtomically("cert.pem", id.certificate_pem, 0644); !s.ok()) return s;
  if (absl::Status s = WriteAtomically("ca.pem", id.ca_pem, 0644); !s.ok()) return s;
  return WriteAtomically("identity", absl::StrCat(id.terminal_id, "\n", id.broker_address, "\n"),
                         0644);
}

absl::StatusOr<std::string> StateDir::PendingKey() {
  auto existing = Read("pending-key.pem");
  if (!existing.ok()) return existing.status();
  if (*existing && !(*existing)->empty()) return **existing;
  absl::StatusOr<std::string> key = pki::NewPrivateKey();
  if (!key.ok()) return key.status();
  if (absl::Status s = WriteAtomically("pending-key.pem", *key, 0600); !s.ok()) return s;
  return *key;
}

absl::StatusOr<uint64_t> StateDir::NextSession() {
  auto text = Read("session");
  if (!text.ok()) return text.status();
  uint64_t session = 0;
  if (*text && !absl::SimpleAtoi(absl::StripAsciiWhitespace(**text), &session)) {
    return absl::DataLossError("state dir: session file is corrupt");
  }
  ++session;
  if (absl::Status s = WriteAtomically("session", absl::StrCat(session, "\n"), 0644); !s.ok()) {
    return s;
  }
  return session;
}

}  // namespace posfleet::agent

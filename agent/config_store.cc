#include "agent/config_store.h"

#include <spdlog/spdlog.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/param_set_hash.h"
#include "common/param_spec.h"
#include "common/param_spec_proto.h"
#include "common/status_macros.h"

namespace posfleet::agent {

absl::Status CheckConfigSet(const v1::ConfigSet& set, const std::string& terminal_id) {
  if (set.terminal_id() != terminal_id) {
    return absl::InvalidArgumentError("terminal_id: the set is for another terminal");
  }
  if (set.revision() == 0) return absl::InvalidArgumentError("revision: missing");
  if (!IsSha256Hex(set.hash())) {
    return absl::InvalidArgumentError("hash: not 64 lowercase hex digits");
  }
  // By key, as the hash takes them: each spec and value as they enter the hash.
  std::map<std::string, std::pair<std::string, std::string>> by_key;
  for (const v1::ConfigSet::Param& p : set.params()) {
    ASSIGN_OR_RETURN(ParamSpec spec, FromProto(p.spec()));
    RETURN_IF_ERROR(ValidateParamSpec(spec));
    if (by_key.count(spec.key) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(spec.key, ": given twice"));
    }
    ASSIGN_OR_RETURN(std::string canonical, CanonicalValue(spec, p.value()));
    if (canonical != p.value()) {
      return absl::InvalidArgumentError(absl::StrCat(spec.key, ": value not in canonical form"));
    }
    if (spec.secret) {
      if (!IsSha256Hex(set.hash_key())) {
        return absl::InvalidArgumentError(
            absl::StrCat(spec.key, ": is secret, and the set has no hash key"));
      }
      canonical = SecretDigest(set.hash_key(), canonical);
    }
    by_key.emplace(spec.key, std::make_pair(EncodeSpecForHash(spec), std::move(canonical)));
  }
  std::vector<HashedParam> hashed;
  hashed.reserve(by_key.size());
  for (const auto& [key, p] : by_key) hashed.push_back(HashedParam{p.first, p.second});
  if (ParamSetHash(hashed) != set.hash()) {
    return absl::InvalidArgumentError(
        "hash: does not match the set's content (damaged, or not what the server sent)");
  }
  return absl::OkStatus();
}

absl::Status ConfigStore::Load() {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, dir_.Read(kFile));
  if (!bytes) return absl::OkStatus();
  v1::ConfigSet set;
  if (!set.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(kFile, ": not a parameter set"));
  }
  absl::MutexLock lock(&mu_);
  current_ = std::move(set);
  return absl::OkStatus();
}

std::optional<v1::ConfigReport> ConfigStore::Apply(const std::string& payload,
                                                   const std::string& terminal_id) {
  if (payload.empty()) {
    // The server cleared the retained set (nothing is published for this terminal now): there
    // is nothing to apply or to report, and the set in force stays.
    spdlog::info("agent: the server withdrew its parameter set; the one in force stays");
    return std::nullopt;
  }
  v1::ConfigReport report;
  report.set_terminal_id(terminal_id);
  report.mutable_time()->set_seconds(absl::ToUnixSeconds(env_.Now()));
  auto refuse = [&](absl::string_view why) {
    spdlog::warn("agent: refused parameter revision {}: {}; the previous set stays",
                 report.revision(), std::string(why));
    report.set_applied(false);
    report.set_error(std::string(why));
    if (!IsSha256Hex(report.hash())) report.clear_hash();  // the server would not read it
    return report;
  };
  if (payload.size() > kMaxConfigSetBytes) {
    // Not even parsed: a set the server would never send (it refuses larger ones).
    return refuse(absl::StrCat("the set is ", payload.size(), " bytes, more than the ",
                               kMaxConfigSetBytes, " a terminal takes"));
  }
  v1::ConfigSet set;
  if (!set.ParseFromString(payload)) {
    // Reported all the same (revision 0, no hash), so the server publishes the set again.
    return refuse(absl::StrCat("not a parameter set (", payload.size(), " bytes)"));
  }
  report.set_revision(set.revision());
  report.set_hash(set.hash());
  if (absl::Status s = CheckConfigSet(set, terminal_id); !s.ok()) return refuse(s.message());
  uint64_t in_force = 0;
  {
    absl::MutexLock lock(&mu_);
    if (current_ && current_->hash() == set.hash()) {
      // The same set again (the retained message at every reconnect): report, write nothing.
      report.set_applied(true);
      return report;
    }
    if (current_) in_force = current_->revision();
  }
  // Revisions only grow (a restore is a new revision too), so an older one is a stale or
  // replayed message, never what the server wants now.
  if (set.revision() < in_force) {
    return refuse(absl::StrCat("revision ", set.revision(), " is older than revision ", in_force,
                               " in force"));
  }
  if (absl::Status s = dir_.WriteAtomically(kFile, set.SerializeAsString(), 0600); !s.ok()) {
    spdlog::error("agent: cannot store parameter revision {}: {}", set.revision(), s.ToString());
    report.set_applied(false);
    report.set_error(absl::StrCat("cannot store the set: ", s.message()));
    return report;
  }
  spdlog::info("agent: applied parameter revision {} ({} parameters)", set.revision(),
               set.params_size());
  absl::MutexLock lock(&mu_);
  current_ = std::move(set);
  report.set_applied(true);
  return report;
}

std::optional<v1::ConfigSet> ConfigStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::optional<v1::ConfigSet> ConfigStore::WaitForChange(const std::string& hash,
                                                        absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [this, &hash]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return current_ && current_->hash() != hash;
  };
  env_.AwaitWithTimeout(mu_, absl::Condition(&changed), timeout);
  return current_;
}

}  // namespace posfleet::agent

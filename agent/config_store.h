#pragma once

// The parameter set a terminal runs (issue 5): what arrives on down/config is checked against
// the specs sent with it (common/param_spec.h, the server's own checks), written atomically to
// STATE_DIR/config.pb (0600: it may hold secrets) and only then made current, so a power cut
// leaves the old set or the new one. A set that fails a check is refused and the previous one
// stays in force. The payment app learns of a new set through the local API (GetConfig, which
// can wait for a change).

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/state_dir.h"
#include "common/env.h"
#include "posfleet/v1/config.pb.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::agent {

// InvalidArgument naming the first problem: another terminal's set, a missing revision or hash,
// a key twice, a spec that is not valid, a value that does not fit its spec or is not in
// canonical form. Never echoes a secret.
absl::Status CheckConfigSet(const v1::ConfigSet& set, const std::string& terminal_id);

class ConfigStore {
 public:
  ConfigStore(StateDir& dir, Env& env) : dir_(dir), env_(env) {}

  // Reads the set applied before (none on a new terminal). DataLoss if the file is corrupt.
  absl::Status Load();
  // Applies a received down/config payload and returns the report for up/config-report. Every
  // refusal is reported: a payload that is not a set, a set that fails CheckConfigSet, and one
  // older than the revision in force (kept). nullopt only for an empty payload, the server
  // clearing its retained set, which leaves the set in force.
  std::optional<v1::ConfigReport> Apply(const std::string& payload, const std::string& terminal_id);
  std::optional<v1::ConfigSet> Current() const;
  // The current set once its hash differs from `hash`, or the current one at `deadline`.
  std::optional<v1::ConfigSet> WaitForChange(const std::string& hash, absl::Duration timeout) const;

  static constexpr char kFile[] = "config.pb";

 private:
  StateDir& dir_;
  Env& env_;
  mutable absl::Mutex mu_;
  std::optional<v1::ConfigSet> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::agent

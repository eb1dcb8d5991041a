#pragma once

// Parameter revisions and per-terminal sync state (issue 5): the types the store and the config
// registry share. The layered model itself is server/core/params.h.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/params.h"
#include "server/core/types.h"

namespace posfleet::core {

// One immutable revision of a tenant's configuration (schema, groups and values together).
struct ConfigRevision {
  int64_t revision = 0;        // 0: the tenant has no configuration yet
  int64_t schema_version = 0;  // the revision that last changed the schema
  std::string author;          // "name (token id)"
  std::string message;
  std::string summary;  // what changed; never a secret's value
  absl::Time create_time = absl::InfinitePast();
  int64_t restored_from = 0;
  int64_t terminals_changed = 0;
};

// A tenant's configuration at one revision. Secret values are sealed (common/secret_box.h).
struct ConfigHead {
  std::string tenant_id;
  ConfigRevision meta;
  TenantParams params;
};

// The configuration of a tenant that has none yet: revision 0, an empty tenant layer.
ConfigHead EmptyConfigHead(const std::string& tenant_id);

// Edits a tenant's configuration under its lock; returns the summary of the change, or an error
// that rolls everything back. May set meta.restored_from; the store fills in the rest of meta.
using ConfigChange = std::function<absl::StatusOr<std::string>(TenantParams&, ConfigRevision&)>;

struct ConfigCommit {
  ConfigRevision meta;  // the new revision (what it would be, for a dry run)
  TenantParams before;
  TenantParams after;
  int64_t terminals_changed = 0;    // terminals whose desired set changed
  std::vector<ParamTarget> sample;  // the first of them
  bool schema_changed = false;
};

enum class SyncState { kInSync, kPending, kRejected };
absl::string_view SyncStateName(SyncState state);  // "in-sync", "pending", "rejected"
std::optional<SyncState> ParseSyncState(absl::string_view name);

// What the store knows of a terminal whose desired set is not in sync, from which core says why
// (SyncReason). Facts, not wording: the wording is core's.
struct SyncFacts {
  TerminalState terminal_state = TerminalState::kActive;
  bool ever_connected = false;  // a presence row exists
  bool online = false;
  absl::Time presence_change_time;  // when it went offline (if it did)
  bool recompute_due = false;       // labels or merchant changed after its set was computed
  absl::Time terminal_change_time;  // the terminal row's last change
  bool published = false;           // the desired set is the one published to the broker
  std::string rejected_reason;      // the terminal's own words, when it rejected the set
};

// Why a terminal is in `state`: "" in sync; the terminal's reason when it rejected the desired
// set; when pending, the most basic cause first, so that drift says what to do about it (enroll
// it, switch it on, wait).
std::string SyncReason(SyncState state, const SyncFacts& facts);

// What the server wants a terminal to run, and what the terminal last said.
struct TerminalConfigStatus {
  std::string terminal_id;
  std::string tenant_id;
  SyncState state = SyncState::kPending;
  int64_t desired_revision = 0;
  std::string desired_hash;
  absl::Time desired_time = absl::InfinitePast();
  int64_t reported_revision = 0;  // 0: never applied one
  std::string reported_hash;
  absl::Time report_time = absl::InfinitePast();
  std::string reason;  // rejected: the terminal's reason; pending: why ("offline since ...")
  bool online = false;
};

struct ConfigSyncCounts {
  int64_t in_sync = 0;
  int64_t pending = 0;
  int64_t rejected = 0;
};

// up/config-report, decoded.
struct ConfigReportIn {
  std::string terminal_id;
  int64_t revision = 0;
  std::string hash;
  bool applied = false;
  std::string error;
};

// A terminal whose desired set has not been published yet, with what resolving it needs.
struct PendingPublish {
  ParamTarget target;
  int64_t desired_revision = 0;
  std::string desired_hash;
};
// Terminals of one tenant claimed for publishing, with the head to resolve them at.
struct ConfigClaim {
  ConfigHead head;
  std::vector<PendingPublish> rows;
};
// What went out: the terminal and the hash of the set the broker took.
struct PublishedSet {
  std::string terminal_id;
  std::string hash;
};

// Key rotation (`posfleet-server params-reseal`): maps a sealed value to the same secret sealed
// with the current key, or returns it unchanged if it already is; an error if no key opens it.
using ResealFn = std::function<absl::StatusOr<std::string>(const std::string& sealed)>;
struct ResealResult {
  int64_t tenants = 0;    // tenants with at least one value resealed
  int64_t revisions = 0;  // revisions rewritten
  int64_t values = 0;     // sealed values resealed
};

}  // namespace posfleet::core

#pragma once

// Presence and health from the terminal link, and the health history.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/link_reports.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

// ApplyLinkReports' `history_every` that records no health history at all.
inline constexpr absl::Duration kNoHistory = absl::InfiniteDuration();

// What ApplyLinkReports wrote to the health history.
struct HistoryWritten {
  int samples = 0;           // heartbeats recorded
  bool failed = false;       // the history could not be written (presence was still applied)
  int refused_inactive = 0;  // reports of terminals that exist but are not active (dropped)
};

class PresenceRepository {
 public:
  virtual ~PresenceRepository() = default;

  // Presence and health from the terminal link, applied in one transaction: heartbeats first,
  // then statuses, each only if its session is not older than the one recorded (a late Will from
  // an earlier connection changes nothing). Reports for unknown terminals are dropped, and so are
  // those of terminals that are not active (suspended, retired, never enrolled), which are counted
  // and audited once per terminal until it is active again (RecordRefusedUplinks). Several
  // reports for one terminal in a batch: the newest session wins, the last one on a tie.
  //
  // A heartbeat is also written to the health history when the terminal's last history record
  // is at least `history_every` old (zero: every heartbeat). Should the history be unwritable (a
  // missing partition), presence and health are still applied and HistoryWritten says false.
  virtual absl::StatusOr<HistoryWritten> ApplyLinkReports(
      const std::vector<StatusReport>& statuses, const std::vector<HealthReport>& heartbeats,
      absl::Duration history_every) = 0;
  // Marks offline every online terminal not heard from for `timeout`; returns how many. Safe to
  // run on every replica at once.
  virtual absl::StatusOr<int> MarkSilentOffline(absl::Duration timeout) = 0;

  // Health history of a terminal in scope (NotFound otherwise), newest first, between
  // `start_time` (inclusive) and `end_time` (exclusive) when given. The window position is the
  // sample's time in microseconds since the epoch.
  virtual absl::StatusOr<Slice<HealthSample>> ListHealthHistory(
      const Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
      std::optional<absl::Time> end_time, const Window& window) = 0;
};

}  // namespace posfleet::core

// Whether a terminal runs the parameter set it should, and why not: the rule behind drift, its
// counts and `config get`. The store reports facts (server/store/pg_store_config.cc); the words
// are chosen here.

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/config.h"

namespace posfleet::core {

ConfigHead EmptyConfigHead(const std::string& tenant_id) {
  ConfigHead head;
  head.tenant_id = tenant_id;
  head.params.tenant = ParamLayer{LayerKind::kTenant, tenant_id, "", 0, {}};
  return head;
}

absl::string_view SyncStateName(SyncState state) {
  switch (state) {
    case SyncState::kInSync:
      return "in-sync";
    case SyncState::kPending:
      return "pending";
    case SyncState::kRejected:
      return "rejected";
  }
  return "?";
}

std::optional<SyncState> ParseSyncState(absl::string_view name) {
  for (SyncState s : {SyncState::kInSync, SyncState::kPending, SyncState::kRejected}) {
    if (SyncStateName(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

std::string Utc(absl::Time t, const char* format) {
  return absl::StrCat(absl::FormatTime(format, t, absl::UTCTimeZone()), " UTC");
}

}  // namespace

std::string SyncReason(SyncState state, const SyncFacts& f) {
  switch (state) {
    case SyncState::kInSync:
      return "";
    case SyncState::kRejected:
      return f.rejected_reason;
    case SyncState::kPending:
      break;
  }
  if (f.terminal_state == TerminalState::kProvisioned) return "never enrolled";
  if (f.terminal_state == TerminalState::kSuspended) return "suspended";
  if (!f.ever_connected) return "never connected";
  if (!f.online)
    return absl::StrCat("offline since ", Utc(f.presence_change_time, "%Y-%m-%d %H:%M"));
  if (f.recompute_due) {
    return absl::StrCat("recompute due: labels or merchant changed at ",
                        Utc(f.terminal_change_time, "%Y-%m-%d %H:%M:%S"),
                        ", after its set was computed");
  }
  if (!f.published) return "not published yet";
  return "published, not reported yet";
}

}  // namespace posfleet::core

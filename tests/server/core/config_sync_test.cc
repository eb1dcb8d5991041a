#include <gtest/gtest.h>

#include "server/core/config.h"

namespace posfleet::core {
namespace {

TEST(SyncStateTest, NamesRoundTripAndUnknownNamesAreRefused) {
  for (SyncState s : {SyncState::kInSync, SyncState::kPending, SyncState::kRejected}) {
    EXPECT_EQ(ParseSyncState(SyncStateName(s)), s);
  }
  EXPECT_FALSE(ParseSyncState("1").has_value());
  EXPECT_FALSE(ParseSyncState("").has_value());
}

// The most basic cause first: each fact hides the ones after it.
TEST(SyncReasonTest, APendingTerminalIsExplainedByItsMostBasicCause) {
  SyncFacts f;
  f.terminal_state = TerminalState::kProvisioned;
  f.presence_change_time =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 8, 5, 59), absl::UTCTimeZone());
  f.terminal_change_time =
      absl::FromCivil(absl::CivilSecond(2026, 12, 1, 9, 10, 11), absl::UTCTimeZone());
  f.recompute_due = true;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "never enrolled");
  f.terminal_state = TerminalState::kSuspended;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "suspended");
  f.terminal_state = TerminalState::kActive;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "never connected");
  f.ever_connected = true;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "offline since 2026-11-30 08:05 UTC");
  f.online = true;
  EXPECT_EQ(SyncReason(SyncState::kPending, f),
            "recompute due: labels or merchant changed at 2026-12-01 09:10:11 UTC, after its set "
            "was computed");
  f.recompute_due = false;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "not published yet");
  f.published = true;
  EXPECT_EQ(SyncReason(SyncState::kPending, f), "published, not reported yet");
}

TEST(SyncReasonTest, InSyncSaysNothingAndARejectionGivesTheTerminalsWords) {
  SyncFacts f;
  f.terminal_state = TerminalState::kSuspended;
  f.rejected_reason = "host.timeout: 0 is below the minimum";
  EXPECT_EQ(SyncReason(SyncState::kInSync, f), "");
  EXPECT_EQ(SyncReason(SyncState::kRejected, f), "host.timeout: 0 is below the minimum");
}

}  // namespace
}  // namespace posfleet::core

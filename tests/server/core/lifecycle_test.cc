#include "server/core/lifecycle.h"

#include <gtest/gtest.h>

namespace posfleet::core {
namespace {

using A = LifecycleAction;
using S = TerminalState;

struct Row {
  S from;
  bool enrolled;
  A action;
  std::optional<S> to;  // nullopt: FailedPrecondition
};

// The whole transition table, walked row by row.
const Row kTable[] = {
    {S::kProvisioned, false, A::kActivate, S::kActive},
    {S::kProvisioned, false, A::kSuspend, S::kSuspended},
    {S::kProvisioned, false, A::kReactivate, std::nullopt},
    {S::kProvisioned, false, A::kRetire, S::kRetired},
    {S::kActive, true, A::kActivate, S::kActive},
    {S::kActive, true, A::kSuspend, S::kSuspended},
    {S::kActive, true, A::kReactivate, S::kActive},
    {S::kActive, true, A::kRetire, S::kRetired},
    {S::kSuspended, true, A::kActivate, std::nullopt},
    {S::kSuspended, true, A::kSuspend, S::kSuspended},
    {S::kSuspended, true, A::kReactivate, S::kActive},
    {S::kSuspended, false, A::kReactivate, S::kProvisioned},  // never enrolled: back to provisioned
    {S::kSuspended, true, A::kRetire, S::kRetired},
    {S::kRetired, true, A::kActivate, std::nullopt},
    {S::kRetired, true, A::kSuspend, std::nullopt},
    {S::kRetired, true, A::kReactivate, std::nullopt},
    {S::kRetired, true, A::kRetire, S::kRetired},
};

TEST(LifecycleTest, TransitionTable) {
  for (const Row& row : kTable) {
    Terminal t;
    t.id = "trm_x";
    t.state = row.from;
    if (row.enrolled) t.enroll_time = absl::UnixEpoch();
    auto next = NextState(t, row.action);
    const std::string what =
        std::string(StateName(row.from)) + " + " + std::string(ActionName(row.action));
    if (row.to) {
      ASSERT_TRUE(next.ok()) << what << ": " << next.status();
      EXPECT_EQ(*next, *row.to) << what;
    } else {
      EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition) << what;
      EXPECT_NE(next.status().message().find(StateName(row.from)), absl::string_view::npos);
    }
  }
}

}  // namespace
}  // namespace posfleet::core

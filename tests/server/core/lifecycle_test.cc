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

// The redemption rules, with no database: each refusal in its order, and the replay lookup asked
// only when it can matter.
TEST(RedemptionTest, EveryOutcomeInItsOrder) {
  Terminal t;
  t.id = "trm_1";
  t.vendor = "PAX";
  t.serial = "SN1";
  int lookups = 0;
  auto has_key = [&] {
    ++lookups;
    return true;
  };
  auto no_key = [&] {
    ++lookups;
    return false;
  };
  auto decide = [&](ActivationCodeFacts code, const std::string& serial,
                    const std::function<bool()>& lookup) {
    return DecideRedemption(code, t, "PAX", serial, lookup);
  };
  EXPECT_EQ(decide({}, "SN1", no_key).action, Redemption::kIssue);
  EXPECT_EQ(decide({.used = true}, "SN1", has_key).action, Redemption::kReplay);
  RedemptionDecision used = decide({.used = true}, "SN1", no_key);
  EXPECT_EQ(used.action, Redemption::kRefuse);
  EXPECT_EQ(used.refusal.message(), "activation_code: already used; ask for a new one");
  EXPECT_EQ(lookups, 2);
  // Another device never gets a replay, and its key is not even looked up.
  EXPECT_EQ(decide({.used = true}, "SN2", has_key).action, Redemption::kRefuse);
  EXPECT_EQ(lookups, 2);
  EXPECT_TRUE(absl::IsUnauthenticated(decide({.expired = true}, "SN1", no_key).refusal));
  // Locked beats a mismatch: a locked code counts nothing more.
  RedemptionDecision locked = decide({.failures = kMaxActivationCodeFailures}, "SN2", no_key);
  EXPECT_EQ(locked.action, Redemption::kRefuse);
  EXPECT_NE(locked.refusal.message().find("locked after 5 attempts"), std::string::npos);
  RedemptionDecision other = decide({.failures = kMaxActivationCodeFailures - 1}, "SN2", no_key);
  EXPECT_EQ(other.action, Redemption::kMismatch);
  EXPECT_TRUE(absl::IsPermissionDenied(other.refusal));
  t.state = TerminalState::kSuspended;
  RedemptionDecision suspended = decide({}, "SN1", no_key);
  EXPECT_EQ(suspended.action, Redemption::kRefuse);
  EXPECT_NE(suspended.refusal.message().find("reactivate it first"), std::string::npos);
  t.state = TerminalState::kRetired;
  EXPECT_TRUE(absl::IsFailedPrecondition(MayEnroll(t)));
}

TEST(LifecycleTest, OnlyRetiringRevokesCertificates) {
  EXPECT_TRUE(RevokesCertificates(S::kActive, S::kRetired));
  EXPECT_TRUE(RevokesCertificates(S::kSuspended, S::kRetired));
  EXPECT_TRUE(RevokesCertificates(S::kProvisioned, S::kRetired));
  EXPECT_FALSE(RevokesCertificates(S::kRetired, S::kRetired));   // a retried retire: once only
  EXPECT_FALSE(RevokesCertificates(S::kActive, S::kSuspended));  // suspended comes back
  EXPECT_FALSE(RevokesCertificates(S::kSuspended, S::kActive));
  EXPECT_FALSE(RevokesCertificates(S::kProvisioned, S::kActive));
}

}  // namespace
}  // namespace posfleet::core

#include "agent/core/state_machine.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "agent/core/backoff.h"
#include "agent/core/renewal.h"

namespace posfleet::agent {
namespace {

constexpr State kStates[] = {State::kUnenrolled, State::kEnrolling, State::kConnecting,
                             State::kOnline,     State::kOffline,   State::kRenewing,
                             State::kStopped};
constexpr Event kEvents[] = {
    Event::kHaveIdentity, Event::kEnroll,        Event::kEnrolled,       Event::kEnrollFailed,
    Event::kConnected,    Event::kConnectFailed, Event::kConnectionLost, Event::kBackoffElapsed,
    Event::kRenewalDue,   Event::kRenewed,       Event::kRenewFailed,    Event::kIdentityExpired,
    Event::kStop};

// Every (state, event) pair; anything not listed here must be refused.
struct Row {
  State from;
  Event event;
  State to;
};
const Row kExpected[] = {
    {State::kUnenrolled, Event::kHaveIdentity, State::kConnecting},
    {State::kUnenrolled, Event::kEnroll, State::kEnrolling},
    {State::kEnrolling, Event::kEnrolled, State::kConnecting},
    {State::kEnrolling, Event::kEnrollFailed, State::kUnenrolled},
    {State::kConnecting, Event::kConnected, State::kOnline},
    {State::kConnecting, Event::kConnectFailed, State::kOffline},
    {State::kOnline, Event::kConnectionLost, State::kOffline},
    {State::kOffline, Event::kBackoffElapsed, State::kConnecting},
    {State::kUnenrolled, Event::kStop, State::kStopped},
    {State::kEnrolling, Event::kStop, State::kStopped},
    {State::kConnecting, Event::kStop, State::kStopped},
    {State::kOnline, Event::kStop, State::kStopped},
    {State::kOffline, Event::kStop, State::kStopped},
    {State::kConnecting, Event::kRenewalDue, State::kRenewing},
    {State::kOnline, Event::kRenewalDue, State::kRenewing},
    {State::kRenewing, Event::kRenewed, State::kConnecting},
    {State::kRenewing, Event::kRenewFailed, State::kConnecting},
    {State::kRenewing, Event::kStop, State::kStopped},
    {State::kConnecting, Event::kIdentityExpired, State::kUnenrolled},
};

TEST(StateMachineTest, EveryStateAgainstEveryEvent) {
  int allowed = 0;
  for (State s : kStates) {
    for (Event e : kEvents) {
      std::optional<State> want;
      for (const Row& r : kExpected) {
        if (r.from == s && r.event == e) want = r.to;
      }
      EXPECT_EQ(Next(s, e), want) << StateName(s) << " + " << EventName(e);
      allowed += want.has_value();
    }
  }
  EXPECT_EQ(allowed, 19);
}

TEST(StateMachineTest, ALifeOfFlappingConnectivity) {
  State s = State::kUnenrolled;
  for (Event e : {Event::kEnroll, Event::kEnrolled, Event::kConnected, Event::kConnectionLost,
                  Event::kBackoffElapsed, Event::kConnectFailed, Event::kBackoffElapsed,
                  Event::kConnected, Event::kStop}) {
    auto next = Next(s, e);
    ASSERT_TRUE(next.has_value()) << StateName(s) << " + " << EventName(e);
    s = *next;
  }
  EXPECT_EQ(s, State::kStopped);
  EXPECT_FALSE(Next(State::kStopped, Event::kBackoffElapsed).has_value());
}

TEST(StateMachineTest, ACertificateRenewedOnlineAndOneThatExpiredOffline) {
  State s = State::kConnecting;
  for (Event e : {Event::kConnected, Event::kRenewalDue, Event::kRenewFailed, Event::kConnected,
                  Event::kRenewalDue, Event::kRenewed, Event::kConnected, Event::kConnectionLost,
                  Event::kBackoffElapsed, Event::kIdentityExpired, Event::kEnroll}) {
    auto next = Next(s, e);
    ASSERT_TRUE(next.has_value()) << StateName(s) << " + " << EventName(e);
    s = *next;
  }
  EXPECT_EQ(s, State::kEnrolling);
  // Renewal is not something an offline agent does while it waits to reconnect.
  EXPECT_FALSE(Next(State::kOffline, Event::kRenewalDue).has_value());
}

// A 90-day certificate on a simulated clock: kept for 60 days, then renewed until it expires.
TEST(RenewalTest, TwoThirdsIntoTheValidity) {
  const absl::Time start = absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone());
  const absl::Time end = start + absl::Hours(24 * 90);
  EXPECT_EQ(RenewalTime(start, end), start + absl::Hours(24 * 60));
  EXPECT_EQ(CertificateActionAt(start, end, start), CertificateAction::kKeep);
  EXPECT_EQ(CertificateActionAt(start, end, start + absl::Hours(24 * 60) - absl::Seconds(1)),
            CertificateAction::kKeep);
  EXPECT_EQ(CertificateActionAt(start, end, start + absl::Hours(24 * 60)),
            CertificateAction::kRenew);
  EXPECT_EQ(CertificateActionAt(start, end, end - absl::Seconds(1)), CertificateAction::kRenew);
  EXPECT_EQ(CertificateActionAt(start, end, end), CertificateAction::kExpired);
  EXPECT_EQ(CertificateActionAt(start, end, end + absl::Hours(24 * 365)),
            CertificateAction::kExpired);
}

TEST(BackoffTest, GrowsExponentiallyWithinJitterAndCap) {
  const absl::Duration base = absl::Seconds(1), cap = absl::Seconds(60);
  EXPECT_EQ(Backoff(0, base, cap, 0.0), absl::Milliseconds(500));
  EXPECT_EQ(Backoff(0, base, cap, 1.0), absl::Seconds(1));
  EXPECT_EQ(Backoff(3, base, cap, 0.0), absl::Seconds(4));
  EXPECT_EQ(Backoff(3, base, cap, 0.5), absl::Seconds(6));
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (double j : {0.0, 0.25, 0.999}) {
      const absl::Duration d = Backoff(attempt, base, cap, j);
      EXPECT_GE(d, base / 2);
      EXPECT_LE(d, cap);
    }
  }
  EXPECT_EQ(Backoff(50, base, cap, 1.0), cap);
}

}  // namespace
}  // namespace posfleet::agent

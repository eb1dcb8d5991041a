#include "agent/core/state_machine.h"

#include <gtest/gtest.h>

#include "agent/core/backoff.h"

namespace posfleet::agent {
namespace {

constexpr State kStates[] = {State::kUnenrolled, State::kEnrolling, State::kConnecting,
                             State::kOnline,     State::kOffline,   State::kStopped};
constexpr Event kEvents[] = {Event::kHaveIdentity,   Event::kEnroll,         Event::kEnrolled,
                             Event::kEnrollFailed,   Event::kConnected,      Event::kConnectFailed,
                             Event::kConnectionLost, Event::kBackoffElapsed, Event::kStop};

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
  EXPECT_EQ(allowed, 13);
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

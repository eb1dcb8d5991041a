#include "agent/core/state_machine.h"

namespace posfleet::agent {
namespace {

struct Transition {
  State from;
  Event event;
  State to;
};

// The transition table, in one place.
constexpr Transition kTable[] = {
    {State::kUnenrolled, Event::kHaveIdentity, State::kConnecting},
    {State::kUnenrolled, Event::kEnroll, State::kEnrolling},
    {State::kEnrolling, Event::kEnrolled, State::kConnecting},
    {State::kEnrolling, Event::kEnrollFailed, State::kUnenrolled},
    {State::kConnecting, Event::kConnected, State::kOnline},
    {State::kConnecting, Event::kConnectFailed, State::kOffline},
    {State::kOnline, Event::kConnectionLost, State::kOffline},
    {State::kOffline, Event::kBackoffElapsed, State::kConnecting},
    {State::kConnecting, Event::kRenewalDue, State::kRenewing},
    {State::kOnline, Event::kRenewalDue, State::kRenewing},
    {State::kRenewing, Event::kRenewed, State::kConnecting},
    {State::kRenewing, Event::kRenewFailed, State::kConnecting},
    {State::kConnecting, Event::kIdentityExpired, State::kUnenrolled},
    {State::kUnenrolled, Event::kStop, State::kStopped},
    {State::kEnrolling, Event::kStop, State::kStopped},
    {State::kConnecting, Event::kStop, State::kStopped},
    {State::kOnline, Event::kStop, State::kStopped},
    {State::kOffline, Event::kStop, State::kStopped},
    {State::kRenewing, Event::kStop, State::kStopped},
};

}  // namespace

absl::string_view StateName(State state) {
  switch (state) {
    case State::kUnenrolled:
      return "unenrolled";
    case State::kEnrolling:
      return "enrolling";
    case State::kConnecting:
      return "connecting";
    case State::kOnline:
      return "online";
    case State::kOffline:
      return "offline";
    case State::kRenewing:
      return "renewing";
    case State::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::string_view EventName(Event event) {
  switch (event) {
    case Event::kHaveIdentity:
      return "have-identity";
    case Event::kEnroll:
      return "enroll";
    case Event::kEnrolled:
      return "enrolled";
    case Event::kEnrollFailed:
      return "enroll-failed";
    case Event::kConnected:
      return "connected";
    case Event::kConnectFailed:
      return "connect-failed";
    case Event::kConnectionLost:
      return "connection-lost";
    case Event::kBackoffElapsed:
      return "backoff-elapsed";
    case Event::kRenewalDue:
      return "renewal-due";
    case Event::kRenewed:
      return "renewed";
    case Event::kRenewFailed:
      return "renew-failed";
    case Event::kIdentityExpired:
      return "identity-expired";
    case Event::kStop:
      return "stop";
  }
  return "unknown";
}

std::optional<State> Next(State state, Event event) {
  for (const Transition& t : kTable) {
    if (t.from == state && t.event == event) return t.to;
  }
  return std::nullopt;
}

}  // namespace posfleet::agent

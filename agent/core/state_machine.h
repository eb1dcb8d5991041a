#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace posfleet::agent {

// The agent's life: unenrolled -> enrolling -> connecting -> online <-> offline (waiting out a
// jittered exponential backoff before it connects again). When two thirds of its certificate's
// validity have passed, connecting or online go to renewing, which gets a certificate for a new
// key and returns to connecting (which reconnects with it, or keeps the live session when the
// renewal failed). A certificate found expired sends the agent back to unenrolled: only a new
// activation code helps then. The whole table is in state_machine.cc;
// tests/agent/core/state_machine_test.cc walks it.
enum class State { kUnenrolled, kEnrolling, kConnecting, kOnline, kOffline, kRenewing, kStopped };

enum class Event {
  kHaveIdentity,     // the state directory holds a certificate: no need to enroll
  kEnroll,           // there is an activation code to enroll with
  kEnrolled,         // the server signed our certificate
  kEnrollFailed,     // the server could not be reached (retry later) or refused (new code needed)
  kConnected,        // the broker accepted us; status online published
  kConnectFailed,    // TLS, network or broker refusal
  kConnectionLost,   // the broker or the network went away
  kBackoffElapsed,   // time to try again
  kRenewalDue,       // two thirds of the certificate's validity have passed
  kRenewed,          // the server signed a certificate for our new key
  kRenewFailed,      // the server could not be reached or refused; retried later
  kIdentityExpired,  // the certificate expired before it could be renewed
  kStop,             // shut down
};

absl::string_view StateName(State state);
absl::string_view EventName(Event event);

// The state after `event` in `state`, or nullopt when the event does not apply there (the
// runtime treats that as a bug worth logging, not as a transition).
std::optional<State> Next(State state, Event event);

}  // namespace posfleet::agent

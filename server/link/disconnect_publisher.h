#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/periodic.h"
#include "server/core/repositories/enrollment.h"
#include "server/link/broker_link.h"

namespace posfleet::link {

struct DisconnectPublisherOptions {
  absl::Duration poll = absl::Seconds(1);
  size_t batch = 500;  // terminals per control message
  absl::Duration publish_timeout = absl::Seconds(10);
};

// Closes the live broker connection of every terminal that was suspended or retired: the state
// change writes a request row in its own transaction (link_disconnects), and this asks the
// broker's plugin ("disconnect <id>" on $CONTROL/posfleet/v1) to close the connection, then
// forgets the request. A request whose message the broker did not take is sent again at the
// next poll; sending one twice is harmless. Every replica may run it.
//
// The server refuses uplinks of such terminals anyway (LinkIngest); this takes away the
// connection itself. A retired terminal's next connect is refused by the CRL (CrlPublisher), and
// its retained down/config (its secrets in clear) is deleted from the broker; a request is
// forgotten only once that is done too (posfleet_link_retained_cleared_total).
class DisconnectPublisher {
 public:
  DisconnectPublisher(core::EnrollmentRepository& store, BrokerLink& link, Counters& counters,
                      Env& env, DisconnectPublisherOptions options = {});
  ~DisconnectPublisher();

  // One pass; returns how many terminals the broker was asked to disconnect.
  absl::StatusOr<int> RunOnce();

  void Start();
  void Stop();

 private:
  // One run, its failure logged (the loop's work).
  void RunLogged();

  core::EnrollmentRepository& store_;
  BrokerLink& link_;
  Counters& counters_;
  Env& env_;
  const DisconnectPublisherOptions options_;
  // Last: stopped (by the destructor's Stop) before the members it uses go.
  Periodic loop_{env_, options_.poll, Periodic::First::kNow, [this] { RunLogged(); }};
};

}  // namespace posfleet::link

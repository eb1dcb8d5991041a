#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "server/core/store.h"
#include "server/link/broker_link.h"
#include "server/link/presence_ingest.h"
#include "server/link/txn_ingest.h"
#include "server/link/uplink_decoder.h"

namespace posfleet::link {

struct LinkIngestOptions {
  BrokerLinkOptions broker;
  PresenceIngestOptions presence;
  TxnIngestOptions txn;
  // Transactions: records older than the kept months are refused (the store has no partition for
  // them), as are records more than a day ahead of this server's clock.
  int txn_retention_months = 13;
};

// Every uplink: read from the broker (BrokerLink), decoded and validated once
// (uplink_decoder.h), then handed to the presence ingest (statuses, heartbeats, config reports,
// written every flush interval) or the transaction ingest (group commit, acks after the commit,
// backpressure). Time-based offline detection is a job of its own (jobs::OfflineDetector).
//
// The subscription is QoS 0: a transaction is acknowledged only after its commit and comes
// again until it is, so the broker's own delivery guarantee adds nothing, and a QoS 1
// subscriber is throttled by the broker's inflight window (see docs/link.md).
//
// Malformed messages are counted (posfleet_link_messages_total{kind,result}) and logged at debug
// level, never fatal. Reports and transactions of terminals that are not active are refused by
// the store (posfleet_link_refused_total{reason="inactive"}; audited once per terminal).
class LinkIngest {
 public:
  LinkIngest(core::Store& store, Counters& counters, Env& env, LinkIngestOptions options);
  ~LinkIngest();

  // Connects (and keeps reconnecting) and starts the writers. Unavailable if the
  // first connection fails.
  absl::Status Start();
  void Stop();

  // Decodes one message and queues what it reports (the callback's work; public for tests).
  void Accept(const std::string& topic, const std::string& payload);

  // The broker connections, for the publishers (retained sets, control messages).
  BrokerLink& broker() { return broker_; }

  // Writes the presence, health and config reports queued now; returns the store's status.
  absl::Status Flush() { return presence_.Flush(); }

 private:
  DecodeLimits Limits() const;

  Counters& counters_;
  Env& env_;
  const int txn_retention_months_;
  PresenceIngest presence_;
  TxnIngest txns_;
  BrokerLink broker_;  // last: its callbacks reach the ingests
};

}  // namespace posfleet::link

#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "server/core/link_reports.h"
#include "server/core/store.h"
#include "server/link/uplink_decoder.h"

namespace posfleet::link {

struct LinkIngestOptions {
  std::string broker_url;  // "ssl://host:8883"
  std::string ca_file;     // the fleet CA (trust anchor for the broker)
  std::string cert_file;   // this server's client certificate, CN posfleet-server
  std::string key_file;
  std::string client_id;  // unique per replica; connection i adds "-i"
  // MQTT connections of this replica, each a member of the shared subscription. The broker reads
  // one packet per connection per loop turn, so acknowledgements to terminals (one publish each)
  // flow through several connections in parallel.
  int connections = 2;
  absl::Duration flush_interval = absl::Milliseconds(200);
  size_t max_pending = 200000;  // reports held while the database is slow; older ones go first
  // A terminal's heartbeat goes to the health history when its last record is this old (zero:
  // every heartbeat; core::kNoHistory: never).
  absl::Duration history_every = absl::Minutes(5);
  // Transactions: records older than the kept months are refused (the store has no partition for
  // them), as are records more than a day ahead of this server's clock.
  int txn_retention_months = 13;
  size_t txn_batch_max = 2000;  // records per PostgreSQL commit at most
  // Threads committing transactions, each its own PostgreSQL connection: while one waits for
  // its commit, the next builds and sends its batch.
  int txn_writers = 2;
  size_t txn_pending_max = 50000;  // records waiting for PostgreSQL; beyond, batches are not acked
  // After a failed commit, the next try waits this long (doubling up to 5 s).
  absl::Duration txn_retry = absl::Milliseconds(200);
};

// Reads every uplink through the shared subscription $share/posfleet/posfleet/v1/t/+/up/+ (so
// several server replicas split the traffic), decodes and validates each message, and writes to
// the store in batches: presence and health every flush interval, transactions as fast as
// PostgreSQL commits them (group commit: while one batch commits, the next one gathers).
//
// Transactions are acknowledged to the terminal (down/ack) only after the commit; a record the
// ack does not name stays in the agent's outbox and comes again, and the store absorbs the
// replay. So the subscription is QoS 0: the broker's own delivery guarantee adds nothing, and a
// QoS 1 subscriber is throttled by the broker's inflight window (see docs/link.md). While
// PostgreSQL is slow or down, at most txn_pending_max records wait in memory; batches beyond are
// dropped unacknowledged (posfleet_txn_batches_deferred_total), which is the backpressure.
//
// Malformed messages are counted (posfleet_link_messages_total{kind,result}) and logged at debug
// level, never fatal. Reports and transactions of terminals that are not active are refused by
// the store (posfleet_link_refused_total{reason="inactive"}; audited once per terminal). A record
// with a card number is quarantined: counted (posfleet_txn_quarantined_total{field}) and logged
// with its id and field name only.
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
  // Publishes each (topic, payload) with QoS 1, retained, and waits up to `timeout` for the
  // broker to take them; returns which it took. Safe from any thread.
  std::vector<bool> PublishRetained(
      const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration timeout);
  // Sends `payload` to the broker plugin's control topic (broker/access_rules.h), QoS 1, and
  // waits up to `timeout` for the broker to take it; returns whether it did.
  bool PublishControl(const std::string& payload, absl::Duration timeout);

  // Writes the presence, health and config reports queued now; returns the store's status.
  absl::Status Flush();
  // Commits the transactions queued now (up to txn_batch_max) and acknowledges them; returns
  // the store's status. Runs on the transaction writers, several at once.
  absl::Status FlushTransactions();

 private:
  class Member;
  struct PendingBatch {
    std::string terminal_id;
    TxnUpload upload;
  };

  DecodeLimits Limits() const;
  void QueueTransactions(const std::string& terminal_id, TxnUpload upload);
  // Publishes down/ack for `batches` (one message per terminal). `records` are the batches'
  // records in batch order (taken out of them for the commit; each batch keeps its record
  // count), `committed[i]` whether records[i] is in the database, `conflict[i]` whether its id
  // is taken by another record (rejected to the agent).
  void Acknowledge(const std::vector<PendingBatch>& batches, const std::vector<core::Txn>& records,
                   const std::vector<bool>& committed, const std::vector<bool>& conflict);
  void Publish(const std::string& topic, const std::string& payload);

  core::Store& store_;
  Counters& counters_;
  Env& env_;
  const LinkIngestOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> next_member_{0};
  absl::Mutex mu_;
  std::vector<core::StatusReport> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<core::HealthReport> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<core::ConfigReportIn> config_reports_ ABSL_GUARDED_BY(mu_);
  absl::Mutex flush_mu_;  // one flush at a time, in arrival order
  absl::Mutex txn_mu_;
  std::deque<PendingBatch> txn_pending_ ABSL_GUARDED_BY(txn_mu_);
  size_t txn_pending_records_ ABSL_GUARDED_BY(txn_mu_) = 0;
  bool txn_stop_ ABSL_GUARDED_BY(txn_mu_) = false;
  absl::Notification stop_;
  std::thread writer_;
  std::vector<std::thread> txn_writers_;
};

}  // namespace posfleet::link

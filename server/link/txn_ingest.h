#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "server/core/repositories/transactions.h"
#include "server/link/uplink_decoder.h"

namespace posfleet::link {

struct TxnIngestOptions {
  size_t batch_max = 2000;  // records per PostgreSQL commit at most
  // Threads committing transactions, each its own PostgreSQL connection: while one waits for
  // its commit, the next builds and sends its batch.
  int writers = 2;
  size_t pending_max = 50000;  // records waiting for PostgreSQL; beyond, batches are not acked
  // After a failed commit, the next try waits this long (doubling up to 5 s).
  absl::Duration retry = absl::Milliseconds(200);
};

// Transaction records from the terminals, committed as fast as PostgreSQL allows (group commit:
// while one batch commits, the next one gathers) and acknowledged to each terminal on down/ack
// only after the commit. A record the ack does not name stays in the agent's outbox and comes
// again, and the store absorbs the replay; a record whose id is taken by other content is
// rejected as a conflict.
//
// Backpressure: at most pending_max records wait in memory; a batch beyond is dropped
// unacknowledged (posfleet_txn_batches_deferred_total) and its terminal sends it again after its
// ack timeout. A failed commit puts its batches back in front, in order, and the writer retries
// after `retry`, doubling. A record with a card number was quarantined by the decoder: counted
// (posfleet_txn_quarantined_total{field}) and logged with its id and field name only.
class TxnIngest {
 public:
  // Publishes one QoS 0 message; false if nothing took it.
  using Publish = std::function<bool(const std::string& topic, const std::string& payload)>;

  TxnIngest(core::TransactionRepository& store, Counters& counters, Env& env,
            TxnIngestOptions options, Publish publish);
  ~TxnIngest();

  void Start();  // the writers
  // Ends the writers, then commits (and acknowledges) what already arrived, once; anything left
  // is sent again by the terminals.
  void Stop();

  // One decoded upload of a terminal: its rejections are acknowledged at once, its records
  // queued for the next commit (or deferred, see above).
  void Queue(const std::string& terminal_id, TxnUpload upload);
  // Commits the transactions queued now (up to batch_max) and acknowledges them; returns the
  // store's status. Runs on the writers, several at once.
  absl::Status Flush();

 private:
  struct PendingBatch {
    std::string terminal_id;
    TxnUpload upload;
  };

  void CountRejections(const std::string& terminal_id, const TxnUpload& upload);
  void CountOutcome(const core::IngestOutcome& out);
  void WriterLoop();
  // Publishes down/ack for `batches` (one message per terminal). `records` are the batches'
  // records in batch order (taken out of them for the commit; each batch keeps its record
  // count), `committed[i]` whether records[i] is in the database, `conflict[i]` whether its id
  // is taken by another record (rejected to the agent).
  void Acknowledge(const std::vector<PendingBatch>& batches, const std::vector<core::Txn>& records,
                   const std::vector<bool>& committed, const std::vector<bool>& conflict);

  core::TransactionRepository& store_;
  Counters& counters_;
  Env& env_;
  const TxnIngestOptions options_;
  const Publish publish_;
  absl::Mutex mu_;
  std::deque<PendingBatch> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_records_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> writers_;
};

}  // namespace posfleet::link

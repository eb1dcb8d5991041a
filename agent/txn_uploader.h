#pragma once

// The agent's transaction uploader (issue 17, item 5): which outbox records go in which batch,
// how many batches may be in flight, which ack settles what, and when an unanswered batch is sent
// again. It does no I/O of its own: the Env gives it time and jitter, a Publish function sends a
// batch (the MQTT session in the agent, anything in a test), and the Outbox holds the records.
// Everything runs on the caller's thread; the agent calls it from its Run loop.

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/outbox.h"
#include "common/env.h"
#include "common/logging.h"

namespace posfleet::agent {

struct UploaderOptions {
  // Batches sent and not acknowledged at most; of those, only one that is not full.
  int window = 4;
  size_t batch_records = 200;
  size_t max_batch_bytes = 48 * 1024;  // the server takes up to 64 KiB per message
  // A batch not acknowledged this long is sent again (with everything after it).
  absl::Duration ack_timeout = absl::Seconds(15);
  // After a server announces it reads again, batches in flight are sent again within this spread.
  absl::Duration ready_resend_spread = absl::Seconds(1);
  // Called for each committed record with the time from its recording to its ack.
  std::function<void(absl::Duration)> on_committed;
};

class TxnUploader {
 public:
  // Sends one serialized posfleet.v1.TxnBatch; an error leaves the batch unsent (tried again on
  // the next Pump).
  using Publish = std::function<absl::Status(const std::string& batch)>;

  TxnUploader(UploaderOptions options, Env& env, Outbox& outbox, Publish publish)
      : options_(std::move(options)), env_(env), outbox_(outbox), publish_(std::move(publish)) {}

  // A serialized posfleet.v1.TxnAck: settles the records it names in the outbox and takes them
  // out of their batches; a batch with nothing left is done. Malformed acks are ignored.
  void OnAck(const std::string& payload);
  // The broker said nobody received a batch (no server subscribed): send what is in flight again
  // soon, backing off from 500 ms up to the ack timeout, instead of waiting out the timeout.
  void OnUnheard();
  // A server has just subscribed: what was sent before may never have been read.
  void OnServerReady();
  // Sends everything again after an ack timeout, then new batches while the window allows.
  void Pump();
  // A new session of `terminal_id` (whose batches say so): nothing is in flight any more, and
  // everything the outbox holds is sent again.
  void Reset(std::string terminal_id);

  // When Pump must run next at the latest (the earliest ack deadline), or InfiniteFuture.
  absl::Time NextDeadline() const;
  uint64_t acknowledged() const { return acknowledged_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t in_flight() const;  // records
  size_t batches_in_flight() const { return inflight_.size(); }

 private:
  struct Inflight {
    uint64_t batch_id = 0;
    bool full = false;                                  // as many records or bytes as a batch takes
    std::vector<std::pair<uint64_t, absl::Time>> seqs;  // seq, when recorded
    absl::Time deadline;
  };
  static constexpr absl::Duration kFirstUnheardRetry = absl::Milliseconds(500);

  // Sends the next batch if the window and Nagle's rule allow; false when nothing was sent.
  bool SendNext(absl::Time now);
  void ForgetInFlight();
  void PullDeadlines(absl::Time to);

  const UploaderOptions options_;
  Env& env_;
  Outbox& outbox_;
  std::string terminal_id_;
  const Publish publish_;
  std::deque<Inflight> inflight_;
  uint64_t sent_through_ = 0;  // highest seq sent in this session
  uint64_t next_batch_id_ = 1;
  uint64_t acknowledged_ = 0;
  uint64_t rejected_ = 0;
  absl::Duration unheard_retry_ = kFirstUnheardRetry;
  // The last server-ready announcement acted on: each replica connection announces, and one
  // resend answers all that arrive together.
  absl::Time ready_handled_ = absl::InfinitePast();
  LogThrottle resend_log_{absl::Minutes(1)};
};

}  // namespace posfleet::agent

#pragma once

// The agent's transaction outbox: every record the payment application hands over stays here
// until the server's down/ack says it is committed in PostgreSQL (or refused for good). The
// durable implementation is SQLite in WAL mode with synchronous=FULL: when Add returns, the record
// is on disk and survives kill -9 and power loss. posfleet-sim uses the in-memory one (thousands
// of simulated terminals do not each need a database file; their durability is not under test).

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"

struct sqlite3;

namespace posfleet::agent {

struct OutboxEntry {
  uint64_t seq = 0;
  std::string record;  // a serialized posfleet.v1.TxnRecord, seq not set
  absl::Time added;
};

struct OutboxAdd {
  uint64_t seq = 0;
  bool duplicate = false;  // the txn_id was in the outbox already; `seq` is that record's
};

// What an ack names as committed: a record settles only if both match.
struct OutboxCommitted {
  uint64_t seq = 0;
  std::string txn_id;
};

struct OutboxRejection {
  uint64_t seq = 0;
  std::string txn_id;
  std::string field;
  std::string reason;
};

class Outbox {
 public:
  virtual ~Outbox() = default;

  // Adds a record under a new, never reused sequence number. ResourceExhausted when the outbox
  // holds `capacity` records (nothing is dropped to make room: the payment app must know).
  absl::StatusOr<OutboxAdd> Add(const std::string& txn_id, const std::string& record) {
    absl::StatusOr<std::vector<OutboxAdd>> added = AddAll({{txn_id, record}});
    if (!added.ok()) return added.status();
    return added->front();
  }
  // Adds several (txn_id, record) pairs in one transaction (one fsync): all or none; full if
  // they do not all fit.
  virtual absl::StatusOr<std::vector<OutboxAdd>> AddAll(
      const std::vector<std::pair<std::string, std::string>>& records) = 0;
  // Records with seq > `after`, oldest first, at most `max_records` and about `max_bytes`.
  virtual absl::StatusOr<std::vector<OutboxEntry>> After(uint64_t after, size_t max_records,
                                                         size_t max_bytes) = 0;
  // Removes the committed records, and moves the rejected ones to the rejected list (the newest
  // 1000 are kept), in one transaction. A record is settled only when the ack names both its seq
  // and its txn_id; anything else is ignored (a late duplicate ack, or one for records this
  // outbox never sent). Returns the seqs settled.
  virtual absl::StatusOr<std::vector<uint64_t>> Settle(
      const std::vector<OutboxCommitted>& committed,
      const std::vector<OutboxRejection>& rejected) = 0;
  virtual std::vector<OutboxRejection> Rejected() = 0;  // newest first
  virtual uint64_t size() = 0;
  virtual uint64_t capacity() const = 0;
  virtual std::optional<absl::Time> oldest() = 0;
};

inline constexpr size_t kRejectedKept = 1000;

// Opens (creating if needed) STATE_DIR/outbox.db. `env` stamps each entry's `added` time.
absl::StatusOr<std::unique_ptr<Outbox>> OpenSqliteOutbox(const std::string& path, uint64_t capacity,
                                                         Env& env);
std::unique_ptr<Outbox> NewMemoryOutbox(uint64_t capacity, Env& env);

}  // namespace posfleet::agent

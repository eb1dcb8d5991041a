#pragma once

// Payment transactions in core's terms: what ingest stores and what the API reads back. The
// record's fields mirror posfleet/v1/txn.proto; enums are kept as their proto numbers (the
// adapters convert), so core stays free of generated code.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/types.h"

namespace posfleet::core {

struct Txn {
  int64_t id = 0;  // arrival order, set by the database
  std::string tenant_id;
  std::string merchant_id;
  std::string terminal_id;
  std::string txn_id;
  int64_t seq = 0;
  absl::Time time;
  int type = 0;
  int result = 0;
  int64_t amount_minor = 0;
  std::string currency;
  std::string response_code;
  std::string scheme;
  int entry_mode = 0;
  std::string masked_pan;
  std::string stan;
  std::string auth_code;
  std::string mid;
  std::string tid;
  absl::Time receive_time;
};

// What IngestTransactions did with each record of its input, in input order.
struct IngestOutcome {
  // Committed: stored now, or stored before (a replay). False only for records of terminals
  // that do not exist or are not active, which are never acknowledged: they stay in the
  // terminal's outbox (nothing is lost should a suspended terminal be reactivated).
  std::vector<bool> committed;
  // The transaction id was stored before with other content: refused, never stored, and
  // reported to the payment app (the ack rejects it).
  std::vector<bool> conflict;
  int inserted = 0;
  int duplicates = 0;
  int conflicts = 0;
  int unknown_terminal = 0;
  int inactive_terminal = 0;
};

struct TxnFilter {
  Scope scope;
  std::string terminal_id;  // empty: any
  std::string merchant_id;  // empty: any
  absl::Time start_time;    // record time, inclusive
  absl::Time end_time;      // exclusive
  int type = 0;             // 0: any
  int result = 0;           // 0: any
};

struct TxnReportFilter {
  Scope scope;
  std::string merchant_id;
  std::string terminal_id;
  bool by_terminal = false;
  absl::Time start_time;  // inclusive, midnight UTC
  absl::Time end_time;    // exclusive, midnight UTC
};

struct DailyTotal {
  std::string day;  // "2026-11-23" (UTC)
  std::string merchant_id;
  std::string terminal_id;  // empty unless grouped by terminal
  std::string currency;
  int type = 0;
  int result = 0;
  int64_t count = 0;
  int64_t amount_minor = 0;
};

struct DailyApproval {
  std::string day;
  std::string merchant_id;
  std::string terminal_id;
  int64_t count = 0;
  int64_t approved = 0;
  double rate = 0;
};

struct SilentTerminal {
  std::string terminal_id;
  std::string merchant_id;
  std::string serial;
  std::optional<absl::Time> last_transaction_time;
};

}  // namespace posfleet::core

#pragma once

// The transaction ledger.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/repositories/repository.h"
#include "server/core/transactions.h"
#include "server/core/types.h"

namespace posfleet::core {

class TransactionRepository {
 public:
  virtual ~TransactionRepository() = default;

  // Transactions.
  //
  // Stores the records in one transaction, each once per (terminal_id, txn_id) whatever its
  // time: a record whose id is stored with the same content (every field but seq) counts as a
  // duplicate and is committed all the same; one whose id is stored with other content is a
  // conflict, never stored (docs/transactions.md). Tenant and merchant
  // come from the terminal's row; records of unknown terminals, and of terminals that are not
  // active (refused as in ApplyLinkReports), are left out (not committed). Also
  // moves the terminals' last transaction time forward (to the minute). The caller has checked
  // every record (common/txn_record.h), including that its time is in a kept month.
  virtual absl::StatusOr<IngestOutcome> IngestTransactions(const std::vector<Txn>& txns) = 0;
  // Newest arrival first; the window position is the row's id.
  virtual absl::StatusOr<Slice<Txn>> ListTransactions(const TxnFilter& filter,
                                                      const Window& window) = 0;
  // Counts and amounts per UTC day, merchant (and terminal), currency, type and result, ordered
  // by those.
  virtual absl::StatusOr<std::vector<DailyTotal>> DailyTotals(const TxnReportFilter& filter) = 0;
  // Online terminals in scope (and merchant, if given) whose last transaction is older than
  // `silent_for`, or that never had one; the window position is the terminal's seq.
  virtual absl::StatusOr<Slice<SilentTerminal>> ListSilentTerminals(const Scope& scope,
                                                                    absl::string_view merchant_id,
                                                                    absl::Duration silent_for,
                                                                    const Window& window) = 0;
};

}  // namespace posfleet::core

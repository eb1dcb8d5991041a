#pragma once

// Reading transactions back: listing with filters, daily totals with approval rates, and online
// terminals that have gone silent. Checks the caller's role and tenant scope and every filter.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/env.h"
#include "server/core/repositories/transactions.h"
#include "server/core/types.h"

namespace posfleet::core {

struct TxnQuery {
  std::string tenant_id;
  std::string terminal_id;
  std::string merchant_id;
  std::optional<absl::Time> start_time;  // default: 31 days ago
  std::optional<absl::Time> end_time;    // default: a day from now
  int type = 0;
  int result = 0;
  int page_size = 0;
  std::string page_token;
};

struct ReportQuery {
  std::string tenant_id;
  std::string merchant_id;
  std::string terminal_id;
  bool by_terminal = false;
  std::string start_day;  // "2026-11-01", inclusive; default: 6 days before end_day
  std::string end_day;    // inclusive; default: today (UTC)
};

struct DailyReport {
  std::vector<DailyTotal> totals;
  std::vector<DailyApproval> approvals;
};

class TransactionLedger {
 public:
  TransactionLedger(TransactionRepository& store, Env& env) : store_(store), env_(env) {}

  absl::StatusOr<Page<Txn>> List(const Actor& actor, const TxnQuery& query);
  absl::StatusOr<DailyReport> Report(const Actor& actor, const ReportQuery& query);
  absl::StatusOr<Page<SilentTerminal>> Silent(const Actor& actor, const std::string& tenant_id,
                                              const std::string& merchant_id, int silent_hours,
                                              int page_size, const std::string& page_token);

 private:
  TransactionRepository& store_;
  Env& env_;
};

// Approval rates per day and group from the totals (which are ordered by day and group).
std::vector<DailyApproval> ApprovalsFrom(const std::vector<DailyTotal>& totals);

}  // namespace posfleet::core

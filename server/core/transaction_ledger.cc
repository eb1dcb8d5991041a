#include "server/core/transaction_ledger.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

constexpr int kApproved = 1;  // posfleet.v1.TXN_RESULT_APPROVED

absl::StatusOr<absl::CivilDay> ParseDay(absl::string_view field, const std::string& text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": expected a day like 2026-11-23"));
  }
  return day;
}

}  // namespace

std::vector<DailyApproval> ApprovalsFrom(const std::vector<DailyTotal>& totals) {
  std::vector<DailyApproval> out;
  for (const DailyTotal& t : totals) {
    if (out.empty() || out.back().day != t.day || out.back().merchant_id != t.merchant_id ||
        out.back().terminal_id != t.terminal_id) {
      out.push_back(DailyApproval{t.day, t.merchant_id, t.terminal_id, 0, 0, 0});
    }
    out.back().count += t.count;
    if (t.result == kApproved) out.back().approved += t.count;
  }
  for (DailyApproval& a : out) {
    a.rate = a.count > 0 ? static_cast<double>(a.approved) / static_cast<double>(a.count) : 0;
  }
  return out;
}

absl::StatusOr<Page<Txn>> TransactionLedger::List(const Actor& actor, const TxnQuery& q) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListTransactions));
  TxnFilter f;
  ASSIGN_OR_RETURN(f.scope, ResolveScope(actor, q.tenant_id));
  if (!q.terminal_id.empty()) RETURN_IF_ERROR(ValidateId("terminal_id", q.terminal_id, "trm"));
  if (!q.merchant_id.empty()) RETURN_IF_ERROR(ValidateId("merchant_id", q.merchant_id, "mer"));
  if (q.type < 0 || q.type > 6) return absl::InvalidArgumentError("type: unknown");
  if (q.result < 0 || q.result > 4) return absl::InvalidArgumentError("result: unknown");
  const absl::Time now = env_.Now();
  f.start_time = q.start_time.value_or(now - absl::Hours(24 * 31));
  f.end_time = q.end_time.value_or(now + absl::Hours(24));
  if (f.start_time >= f.end_time) {
    return absl::InvalidArgumentError("start_time: must be before end_time");
  }
  f.terminal_id = q.terminal_id;
  f.merchant_id = q.merchant_id;
  f.type = q.type;
  f.result = q.result;
  const std::string key = absl::StrCat("txns|", f.scope.tenant_id, "|", f.terminal_id, "|",
                                       f.merchant_id, "|", absl::ToUnixMicros(f.start_time), "|",
                                       absl::ToUnixMicros(f.end_time), "|", f.type, "|", f.result);
  return FetchPage<Txn>(key, q.page_size, q.page_token,
                        [&](const Window& w) { return store_.ListTransactions(f, w); });
}

absl::StatusOr<DailyReport> TransactionLedger::Report(const Actor& actor, const ReportQuery& q) {
  RETURN_IF_ERROR(Authorize(actor, Method::kDailyReport));
  TxnReportFilter f;
  ASSIGN_OR_RETURN(f.scope, ResolveScope(actor, q.tenant_id));
  if (!q.terminal_id.empty()) RETURN_IF_ERROR(ValidateId("terminal_id", q.terminal_id, "trm"));
  if (!q.merchant_id.empty()) RETURN_IF_ERROR(ValidateId("merchant_id", q.merchant_id, "mer"));
  absl::CivilDay end = absl::ToCivilDay(env_.Now(), absl::UTCTimeZone());
  if (!q.end_day.empty()) {
    ASSIGN_OR_RETURN(end, ParseDay("end_day", q.end_day));
  }
  absl::CivilDay start = end - 6;
  if (!q.start_day.empty()) {
    ASSIGN_OR_RETURN(start, ParseDay("start_day", q.start_day));
  }
  if (start > end) return absl::InvalidArgumentError("start_day: must not be after end_day");
  if (end - start >= 400) return absl::InvalidArgumentError("start_day: at most 400 days");
  f.merchant_id = q.merchant_id;
  f.terminal_id = q.terminal_id;
  f.by_terminal = q.by_terminal;
  f.start_time = absl::FromCivil(start, absl::UTCTimeZone());
  f.end_time = absl::FromCivil(end + 1, absl::UTCTimeZone());
  DailyReport report;
  ASSIGN_OR_RETURN(report.totals, store_.DailyTotals(f));
  report.approvals = ApprovalsFrom(report.totals);
  return report;
}

absl::StatusOr<Page<SilentTerminal>> TransactionLedger::Silent(const Actor& actor,
                                                               const std::string& tenant_id,
                                                               const std::string& merchant_id,
                                                               int silent_hours, int page_size,
                                                               const std::string& page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListSilentTerminals));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
  if (!merchant_id.empty()) RETURN_IF_ERROR(ValidateId("merchant_id", merchant_id, "mer"));
  if (silent_hours == 0) silent_hours = 4;
  if (silent_hours < 1 || silent_hours > 2160) {
    return absl::InvalidArgumentError("silent_hours: must be 1 to 2160");
  }
  const std::string key =
      absl::StrCat("silent|", scope.tenant_id, "|", merchant_id, "|", silent_hours);
  return FetchPage<SilentTerminal>(key, page_size, page_token, [&](const Window& w) {
    return store_.ListSilentTerminals(scope, merchant_id, absl::Hours(silent_hours), w);
  });
}

}  // namespace posfleet::core

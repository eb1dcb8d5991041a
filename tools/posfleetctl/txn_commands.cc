// posfleetctl txns list|silent, report daily.

#include <iomanip>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/txn_record.h"
#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {
namespace {

// 1250 EUR -> "12.50 EUR" (two decimals: the common case; JSON output keeps minor units).
std::string Money(int64_t minor, const std::string& currency) {
  return absl::StrFormat("%d.%02d %s", minor / 100, minor % 100, currency);
}

void AddTxnsList(CLI::App* txns, Context& ctx) {
  struct Args {
    std::string tenant, terminal, merchant, since, until, type, result;
    int limit = 50;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = txns->add_subcommand("list", "transactions, newest arrival first");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_option("--terminal", a->terminal, "terminal id");
  cmd->add_option("--merchant", a->merchant, "merchant id");
  cmd->add_option("--since", a->since, "RFC 3339 time or duration ago (2h, 7d); default 31d");
  cmd->add_option("--until", a->until, "RFC 3339 time or duration ago");
  cmd->add_option("--type", a->type, "sale, refund, void, pre-auth, completion, reversal");
  cmd->add_option("--result", a->result, "approved, declined, failed, cancelled");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListTransactionsRequest req;
    req.set_tenant_id(a->tenant);
    req.set_terminal_id(a->terminal);
    req.set_merchant_id(a->merchant);
    if (!a->since.empty() && !ParseWhen(ctx, "--since", a->since, req.mutable_start_time())) {
      return;
    }
    if (!a->until.empty() && !ParseWhen(ctx, "--until", a->until, req.mutable_end_time())) {
      return;
    }
    if (!a->type.empty()) {
      auto t = ParseTxnType(a->type);
      if (!t) return ctx.UsageError("--type: sale, refund, void, pre-auth, completion, reversal");
      req.set_type(*t);
    }
    if (!a->result.empty()) {
      auto r = ParseTxnResult(a->result);
      if (!r) return ctx.UsageError("--result: approved, declined, failed, cancelled");
      req.set_result(*r);
    }
    v1::ListTransactionsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListTransactionsRequest& r,
                   v1::ListTransactionsResponse* out) {
      return ctx.transactions().ListTransactions(c, r, out);
    };
    auto items = [](v1::ListTransactionsResponse& r) { return r.mutable_transactions(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table({"TIME", "TERMINAL", "TXN", "TYPE", "RESULT", "AMOUNT", "CARD", "ENTRY"});
    for (const v1::Transaction& t : all.transactions()) {
      const v1::TxnRecord& r = t.record();
      table.Add({FormatTime(r.time()), t.terminal_id(), r.txn_id(),
                 std::string(TxnTypeName(r.type())), std::string(TxnResultName(r.result())),
                 Money(r.amount_minor(), r.currency()),
                 r.masked_pan().empty() ? "-" : r.masked_pan(),
                 std::string(EntryModeName(r.entry_mode()))});
    }
    table.Print(std::cout);
    if (table.size() == 0) std::cout << "(no transactions match)\n";
  });
}

void AddTxnsSilent(CLI::App* txns, Context& ctx) {
  struct Args {
    std::string tenant, merchant;
    int hours = 4;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = txns->add_subcommand(
      "silent", "online terminals without a transaction for --hours (a broken payment app?)");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_option("--merchant", a->merchant, "merchant id");
  cmd->add_option("--hours", a->hours, "silent for at least this long")->check(CLI::Range(1, 2160));
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListSilentTerminalsRequest req;
    req.set_tenant_id(a->tenant);
    req.set_merchant_id(a->merchant);
    req.set_silent_hours(a->hours);
    v1::ListSilentTerminalsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListSilentTerminalsRequest& r,
                   v1::ListSilentTerminalsResponse* out) {
      return ctx.transactions().ListSilentTerminals(c, r, out);
    };
    auto items = [](v1::ListSilentTerminalsResponse& r) { return r.mutable_terminals(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table({"TERMINAL", "SERIAL", "MERCHANT", "LAST TRANSACTION"});
    for (const v1::SilentTerminal& t : all.terminals()) {
      table.Add({t.terminal_id(), t.serial(), t.merchant_id(),
                 t.has_last_transaction_time() ? FormatTime(t.last_transaction_time()) : "never"});
    }
    table.Print(std::cout);
    if (table.size() == 0) std::cout << "(no silent terminals)\n";
  });
}

void AddReportDaily(CLI::App* report, Context& ctx) {
  struct Args {
    std::string tenant, merchant, terminal, from, to;
    bool by_terminal = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = report->add_subcommand(
      "daily", "totals per UTC day and merchant (or terminal): count, amount, approval rate");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_option("--merchant", a->merchant, "merchant id");
  cmd->add_option("--terminal", a->terminal, "terminal id");
  cmd->add_option("--from", a->from, "first day, 2026-11-01 (default: 6 days before --to)");
  cmd->add_option("--to", a->to, "last day (default: today)");
  cmd->add_flag("--by-terminal", a->by_terminal, "one row per terminal instead of merchant");
  cmd->callback([&ctx, a] {
    v1::DailyReportRequest req;
    req.set_tenant_id(a->tenant);
    req.set_merchant_id(a->merchant);
    req.set_terminal_id(a->terminal);
    req.set_start_day(a->from);
    req.set_end_day(a->to);
    req.set_group_by(a->by_terminal ? v1::REPORT_GROUP_TERMINAL : v1::REPORT_GROUP_MERCHANT);
    v1::DailyReportResponse resp;
    if (!ctx.Check(
            ctx.Invoke(ctx.transactions(), &v1::TransactionService::Stub::DailyReport, req, &resp)))
      return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    Table totals(
        {"DAY", a->by_terminal ? "TERMINAL" : "MERCHANT", "TYPE", "RESULT", "COUNT", "AMOUNT"});
    for (const v1::DailyTotal& t : resp.totals()) {
      totals.Add({t.day(), a->by_terminal ? t.terminal_id() : t.merchant_id(),
                  std::string(TxnTypeName(t.type())), std::string(TxnResultName(t.result())),
                  absl::StrCat(t.count()), Money(t.amount_minor(), t.currency())});
    }
    totals.Print(std::cout);
    std::cout << "\n";
    Table approvals({"DAY", a->by_terminal ? "TERMINAL" : "MERCHANT", "COUNT", "APPROVED", "RATE"});
    for (const v1::DailyApproval& x : resp.approvals()) {
      approvals.Add({x.day(), a->by_terminal ? x.terminal_id() : x.merchant_id(),
                     absl::StrCat(x.count()), absl::StrCat(x.approved()),
                     absl::StrFormat("%.1f%%", 100 * x.approval_rate())});
    }
    approvals.Print(std::cout);
    if (resp.totals().empty()) std::cout << "(no transactions in these days)\n";
  });
}

}  // namespace

void AddTxnCommands(CLI::App& app, Context& ctx) {
  CLI::App* txns = app.add_subcommand("txns", "payment transactions the terminals reported");
  txns->require_subcommand(1);
  AddTxnsList(txns, ctx);
  AddTxnsSilent(txns, ctx);

  CLI::App* report = app.add_subcommand("report", "transaction reports");
  report->require_subcommand(1);
  AddReportDaily(report, ctx);
}

}  // namespace posfleet::ctl

#include "common/status_macros.h"
#include "server/api/convert.h"
#include "server/api/services.h"

namespace posfleet::api {
namespace {

void ToProto(const core::Txn& t, v1::Transaction* out) {
  out->set_terminal_id(t.terminal_id);
  out->set_merchant_id(t.merchant_id);
  out->set_tenant_id(t.tenant_id);
  v1::TxnRecord* r = out->mutable_record();
  r->set_txn_id(t.txn_id);
  r->set_seq(static_cast<uint64_t>(t.seq));
  api::ToProto(t.time, r->mutable_time());
  r->set_type(static_cast<v1::TxnType>(t.type));
  r->set_amount_minor(t.amount_minor);
  r->set_currency(t.currency);
  r->set_result(static_cast<v1::TxnResult>(t.result));
  r->set_response_code(t.response_code);
  r->set_scheme(t.scheme);
  r->set_entry_mode(static_cast<v1::EntryMode>(t.entry_mode));
  r->set_masked_pan(t.masked_pan);
  r->set_stan(t.stan);
  r->set_auth_code(t.auth_code);
  r->set_mid(t.mid);
  r->set_tid(t.tid);
  api::ToProto(t.receive_time, out->mutable_receive_time());
}

}  // namespace

Status TransactionServiceImpl::ListTransactions(ServerContext* ctx,
                                                const v1::ListTransactionsRequest* req,
                                                v1::ListTransactionsResponse* resp) {
  return handler_.Run(ctx, "ListTransactions", *req, [&](const core::Actor& actor) -> absl::Status {
    core::TxnQuery q;
    q.tenant_id = req->tenant_id();
    q.terminal_id = req->terminal_id();
    q.merchant_id = req->merchant_id();
    q.start_time = FromProto(req->start_time(), req->has_start_time());
    q.end_time = FromProto(req->end_time(), req->has_end_time());
    q.type = req->type();
    q.result = req->result();
    q.page_size = req->page_size();
    q.page_token = req->page_token();
    ASSIGN_OR_RETURN(core::Page<core::Txn> page, ledger_.List(actor, q));
    for (const core::Txn& t : page.items) ToProto(t, resp->add_transactions());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status TransactionServiceImpl::DailyReport(ServerContext* ctx, const v1::DailyReportRequest* req,
                                           v1::DailyReportResponse* resp) {
  return handler_.Run(ctx, "DailyReport", *req, [&](const core::Actor& actor) -> absl::Status {
    core::ReportQuery q;
    q.tenant_id = req->tenant_id();
    q.merchant_id = req->merchant_id();
    q.terminal_id = req->terminal_id();
    q.by_terminal = req->group_by() == v1::REPORT_GROUP_TERMINAL;
    q.start_day = req->start_day();
    q.end_day = req->end_day();
    ASSIGN_OR_RETURN(core::DailyReport report, ledger_.Report(actor, q));
    for (const core::DailyTotal& t : report.totals) {
      v1::DailyTotal* out = resp->add_totals();
      out->set_day(t.day);
      out->set_merchant_id(t.merchant_id);
      out->set_terminal_id(t.terminal_id);
      out->set_currency(t.currency);
      out->set_type(static_cast<v1::TxnType>(t.type));
      out->set_result(static_cast<v1::TxnResult>(t.result));
      out->set_count(t.count);
      out->set_amount_minor(t.amount_minor);
    }
    for (const core::DailyApproval& a : report.approvals) {
      v1::DailyApproval* out = resp->add_approvals();
      out->set_day(a.day);
      out->set_merchant_id(a.merchant_id);
      out->set_terminal_id(a.terminal_id);
      out->set_count(a.count);
      out->set_approved(a.approved);
      out->set_approval_rate(a.rate);
    }
    return absl::OkStatus();
  });
}

Status TransactionServiceImpl::ListSilentTerminals(ServerContext* ctx,
                                                   const v1::ListSilentTerminalsRequest* req,
                                                   v1::ListSilentTerminalsResponse* resp) {
  return handler_.Run(
      ctx, "ListSilentTerminals", *req, [&](const core::Actor& actor) -> absl::Status {
        ASSIGN_OR_RETURN(core::Page<core::SilentTerminal> page,
                         ledger_.Silent(actor, req->tenant_id(), req->merchant_id(),
                                        req->silent_hours(), req->page_size(), req->page_token()));
        for (const core::SilentTerminal& t : page.items) {
          v1::SilentTerminal* out = resp->add_terminals();
          out->set_terminal_id(t.terminal_id);
          out->set_merchant_id(t.merchant_id);
          out->set_serial(t.serial);
          if (t.last_transaction_time)
            ToProto(*t.last_transaction_time, out->mutable_last_transaction_time());
        }
        resp->set_next_page_token(page.next_page_token);
        return absl::OkStatus();
      });
}

}  // namespace posfleet::api

#include "common/status_macros.h"
#include "server/api/services.h"

namespace posfleet::api {

Status TerminalServiceImpl::CreateTerminal(ServerContext* ctx, const v1::CreateTerminalRequest* req,
                                           v1::Terminal* resp) {
  return handler_.Run(ctx, "CreateTerminal", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Terminal t, registry_.Create(actor, FromProto(req->terminal())));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::BatchCreateTerminals(ServerContext* ctx,
                                                 const v1::BatchCreateTerminalsRequest* req,
                                                 v1::BatchCreateTerminalsResponse* resp) {
  return handler_.Run(
      ctx, "BatchCreateTerminals", *req, [&](const core::Actor& actor) -> absl::Status {
        std::vector<core::TerminalSpec> specs;
        specs.reserve(req->terminals_size());
        for (const v1::TerminalSpec& spec : req->terminals()) specs.push_back(FromProto(spec));
        ASSIGN_OR_RETURN(core::BatchOutcome out,
                         registry_.CreateBatch(actor, specs, req->all_or_nothing()));
        for (size_t i = 0; i < out.results.size(); ++i) {
          ToProto(out.results[i], static_cast<int>(i), resp->add_results());
        }
        resp->set_created(out.created);
        resp->set_skipped(out.skipped);
        resp->set_failed(out.failed);
        resp->set_rolled_back(out.rolled_back);
        return absl::OkStatus();
      });
}

Status TerminalServiceImpl::GetTerminal(ServerContext* ctx, const v1::GetTerminalRequest* req,
                                        v1::Terminal* resp) {
  return handler_.Run(ctx, "GetTerminal", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Terminal t, registry_.Get(actor, req->id()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::ListTerminals(ServerContext* ctx, const v1::ListTerminalsRequest* req,
                                          v1::ListTerminalsResponse* resp) {
  return handler_.Run(ctx, "ListTerminals", *req, [&](const core::Actor& actor) -> absl::Status {
    core::TerminalQuery query;
    query.tenant_id = req->tenant_id();
    query.merchant_id = req->merchant_id();
    if (req->state() != v1::TERMINAL_STATE_UNSPECIFIED) {
      query.state = FromProto(req->state());
      if (!query.state) return absl::InvalidArgumentError("state: unknown value");
    }
    query.label_selector = req->label_selector();
    if (req->has_online()) query.online = req->online();
    query.offline_for_seconds = req->offline_for_seconds();
    query.battery_below = req->battery_below();
    query.paper = req->paper();
    query.software = req->software();
    query.page_size = req->page_size();
    query.page_token = req->page_token();
    ASSIGN_OR_RETURN(core::Page<core::Terminal> page, registry_.List(actor, query));
    for (const core::Terminal& t : page.items) ToProto(t, resp->add_terminals());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::SummarizeFleet(ServerContext* ctx, const v1::SummarizeFleetRequest* req,
                                           v1::FleetSummary* resp) {
  return handler_.Run(ctx, "SummarizeFleet", *req, [&](const core::Actor& actor) -> absl::Status {
    core::TerminalQuery query;
    query.tenant_id = req->tenant_id();
    query.merchant_id = req->merchant_id();
    query.label_selector = req->label_selector();
    ASSIGN_OR_RETURN(core::FleetSummary summary, registry_.Summarize(actor, query));
    ToProto(summary, resp);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::WatchTerminals(ServerContext* ctx, const v1::WatchTerminalsRequest* req,
                                           grpc::ServerWriter<v1::TerminalEvent>* writer) {
  return handler_.Run(
      ctx, "WatchTerminals", *req,
      [&](const core::Actor& actor) -> absl::Status {
        core::TerminalQuery query;
        query.tenant_id = req->tenant_id();
        query.merchant_id = req->merchant_id();
        query.label_selector = req->label_selector();
        core::WatchOptions options;
        options.snapshot = req->snapshot();
        auto send = [writer](core::WatchEventKind kind, const core::Terminal* t) {
          v1::TerminalEvent event;
          switch (kind) {
            case core::WatchEventKind::kSnapshot:
              event.set_kind(v1::TerminalEvent::KIND_SNAPSHOT);
              break;
            case core::WatchEventKind::kSynced:
              event.set_kind(v1::TerminalEvent::KIND_SYNCED);
              break;
            case core::WatchEventKind::kChanged:
              event.set_kind(v1::TerminalEvent::KIND_CHANGED);
              break;
          }
          if (t != nullptr) ToProto(*t, event.mutable_terminal());
          return writer->Write(event);
        };
        // The token is checked again while the stream is open: revoked, or its tenant deleted, the
        // watch ends UNAUTHENTICATED within options.recheck.
        auto still_allowed = [&]() -> absl::Status {
          absl::StatusOr<core::Actor> again = handler_.Authenticate(ctx);
          if (!again.ok()) return again.status();
          if (again->token_id != actor.token_id) return absl::UnauthenticatedError("token changed");
          return absl::OkStatus();
        };
        return watch_.Run(
            actor, query, options, send, [&] { return ctx->IsCancelled() || stopping_.load(); },
            still_allowed);
      },
      Handler::CallKind::kStream);
}

Status TerminalServiceImpl::ListHealthHistory(ServerContext* ctx,
                                              const v1::ListHealthHistoryRequest* req,
                                              v1::ListHealthHistoryResponse* resp) {
  return handler_.Run(ctx, "ListHealthHistory", *req,
                      [&](const core::Actor& actor) -> absl::Status {
                        core::HistoryQuery query;
                        query.start_time = FromProto(req->start_time(), req->has_start_time());
                        query.end_time = FromProto(req->end_time(), req->has_end_time());
                        query.page_size = req->page_size();
                        query.page_token = req->page_token();
                        ASSIGN_OR_RETURN(core::Page<core::HealthSample> page,
                                         registry_.History(actor, req->id(), query));
                        for (const core::HealthSample& s : page.items)
                          ToProto(s, resp->add_samples());
                        resp->set_next_page_token(page.next_page_token);
                        return absl::OkStatus();
                      });
}

Status TerminalServiceImpl::UpdateTerminal(ServerContext* ctx, const v1::UpdateTerminalRequest* req,
                                           v1::Terminal* resp) {
  return handler_.Run(ctx, "UpdateTerminal", *req, [&](const core::Actor& actor) -> absl::Status {
    core::TerminalUpdate update;
    update.set_labels = core::Labels(req->set_labels().begin(), req->set_labels().end());
    update.remove_labels.assign(req->remove_labels().begin(), req->remove_labels().end());
    if (req->has_merchant_id()) update.merchant_id = req->merchant_id();
    if (req->has_tid()) update.tid = req->tid();
    ASSIGN_OR_RETURN(core::Terminal t, registry_.Update(actor, req->id(), update));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::Lifecycle(ServerContext* ctx, absl::string_view method,
                                      const v1::LifecycleRequest* req, core::LifecycleAction action,
                                      v1::Terminal* resp) {
  return handler_.Run(ctx, method, *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Terminal t,
                     registry_.ChangeLifecycle(actor, req->id(), action, req->reason()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TerminalServiceImpl::SuspendTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                                            v1::Terminal* resp) {
  return Lifecycle(ctx, "SuspendTerminal", req, core::LifecycleAction::kSuspend, resp);
}

Status TerminalServiceImpl::ReactivateTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                                               v1::Terminal* resp) {
  return Lifecycle(ctx, "ReactivateTerminal", req, core::LifecycleAction::kReactivate, resp);
}

Status TerminalServiceImpl::RetireTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                                           v1::Terminal* resp) {
  return Lifecycle(ctx, "RetireTerminal", req, core::LifecycleAction::kRetire, resp);
}

}  // namespace posfleet::api

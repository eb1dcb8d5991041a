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

namespace {

// One WatchTerminals stream: writes what its core::WatchStream has queued, one message at a time,
// and finishes with the watch's end. The hub wakes it through `Target`, which outlives it.
class WatchReactor final : public grpc::ServerWriteReactor<v1::TerminalEvent> {
 public:
  struct Target {
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };

  WatchReactor(Handler& handler, core::CallLimits::Ticket ticket)
      : handler_(handler), ticket_(std::move(ticket)), target_(std::make_shared<Target>()) {
    absl::MutexLock lock(&target_->mu);
    target_->reactor = this;
  }

  // For the hub: wakes this stream if it is still there.
  std::function<void()> Waker() {
    return [target = target_] {
      absl::MutexLock lock(&target->mu);
      if (target->reactor != nullptr) target->reactor->Pump();
    };
  }

  void Begin(std::shared_ptr<core::WatchStream> stream) {
    {
      absl::MutexLock lock(&mu_);
      stream_ = std::move(stream);
    }
    Pump();
  }
  // The call could not start: answers at once.
  void Refuse(const absl::Status& status) {
    handler_.Record("WatchTerminals", status);
    Finish(ToGrpc(status));
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {  // the receiver is gone
        stream_->Cancel();
        if (!finished_) {
          finished_ = true;
          handler_.Record("WatchTerminals", absl::OkStatus());
          Finish(grpc::Status::OK);
        }
        return;
      }
    }
    Pump();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    if (stream_) stream_->Cancel();  // the hub ends it, and Pump finishes the call
  }
  void OnDone() override {
    {
      absl::MutexLock lock(&target_->mu);
      target_->reactor = nullptr;
    }
    {
      absl::MutexLock lock(&mu_);
      if (stream_) stream_->Cancel();
    }
    delete this;
  }

 private:
  // Starts the next write, or finishes once the watch has ended and everything is written.
  void Pump() {
    absl::MutexLock lock(&mu_);
    if (!stream_ || writing_ || finished_) return;
    if (std::optional<core::WatchEvent> e = stream_->Next()) {
      event_.Clear();
      switch (e->kind) {
        case core::WatchEventKind::kSnapshot:
          event_.set_kind(v1::TerminalEvent::KIND_SNAPSHOT);
          break;
        case core::WatchEventKind::kSynced:
          event_.set_kind(v1::TerminalEvent::KIND_SYNCED);
          break;
        case core::WatchEventKind::kChanged:
          event_.set_kind(v1::TerminalEvent::KIND_CHANGED);
          break;
      }
      if (e->terminal) ToProto(*e->terminal, event_.mutable_terminal());
      writing_ = true;
      StartWrite(&event_);
      return;
    }
    absl::Status end;
    if (stream_->Finished(&end)) {
      finished_ = true;
      handler_.Record("WatchTerminals", end);
      Finish(ToGrpc(end));
    }
  }

  Handler& handler_;
  core::CallLimits::Ticket ticket_;  // the stream's slot, held until the call is done
  std::shared_ptr<Target> target_;
  absl::Mutex mu_;
  std::shared_ptr<core::WatchStream> stream_ ABSL_GUARDED_BY(mu_);
  v1::TerminalEvent event_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerWriteReactor<v1::TerminalEvent>* TerminalServiceImpl::WatchTerminals(
    grpc::CallbackServerContext* ctx, const v1::WatchTerminalsRequest* req) {
  absl::StatusOr<Handler::Admitted> admitted =
      handler_.Begin(ctx, "WatchTerminals", *req, Handler::CallKind::kStream);
  if (!admitted.ok()) {
    auto* refused = new WatchReactor(handler_, core::CallLimits::Ticket());
    refused->Refuse(admitted.status());
    return refused;
  }
  auto* reactor = new WatchReactor(handler_, std::move(admitted->ticket));
  core::TerminalQuery query;
  query.tenant_id = req->tenant_id();
  query.merchant_id = req->merchant_id();
  query.label_selector = req->label_selector();
  core::WatchOptions options;
  options.snapshot = req->snapshot();
  // The token is checked again while the stream is open: revoked, or its tenant deleted, the
  // watch ends UNAUTHENTICATED within options.recheck.
  const std::string authorization(Handler::Authorization(ctx).value_or(""));
  Handler& handler = handler_;
  auto still_allowed = [&handler, authorization,
                        token = admitted->actor.token_id]() -> absl::Status {
    absl::StatusOr<core::Actor> again = handler.AuthenticateHeader(authorization);
    if (!again.ok()) return again.status();
    if (again->token_id != token) return absl::UnauthenticatedError("token changed");
    return absl::OkStatus();
  };
  absl::StatusOr<std::shared_ptr<core::WatchStream>> stream =
      watch_.Open(admitted->actor, query, options, reactor->Waker(), std::move(still_allowed));
  if (!stream.ok()) {
    reactor->Refuse(stream.status());
    return reactor;
  }
  reactor->Begin(*std::move(stream));
  return reactor;
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

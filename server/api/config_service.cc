#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/param_spec_proto.h"
#include "common/status_macros.h"
#include "server/api/convert.h"
#include "server/api/services.h"

namespace posfleet::api {
namespace {

v1::LayerKind ToProto(core::LayerKind kind) {
  return static_cast<v1::LayerKind>(static_cast<int>(kind) + 1);
}

absl::StatusOr<core::LayerKind> FromProto(v1::LayerKind kind) {
  if (kind < v1::LAYER_KIND_TENANT || kind > v1::LAYER_KIND_TERMINAL) {
    return absl::InvalidArgumentError("kind: give tenant, group, merchant or terminal");
  }
  return static_cast<core::LayerKind>(static_cast<int>(kind) - 1);
}

// What every change request carries: why, whether it is a preview, and the revision it was
// prepared against.
template <typename Request>
core::ChangeOptions Options(const Request& req, uint32_t sample = 5) {
  core::ChangeOptions o;
  o.message = req.message();
  o.dry_run = req.dry_run();
  o.sample = static_cast<size_t>(sample);
  o.if_revision = static_cast<int64_t>(std::min<uint64_t>(req.if_revision(), INT64_MAX));
  return o;
}

void ToProto(const core::ConfigRevision& m, v1::ConfigRevision* out) {
  out->set_revision(static_cast<uint64_t>(m.revision));
  out->set_schema_version(static_cast<uint64_t>(m.schema_version));
  out->set_author(m.author);
  out->set_message(m.message);
  out->set_summary(m.summary);
  if (m.create_time != absl::InfinitePast())
    api::ToProto(m.create_time, out->mutable_create_time());
  out->set_restored_from(static_cast<uint64_t>(m.restored_from));
  out->set_terminals_changed(static_cast<uint64_t>(m.terminals_changed));
}

void ToProto(const core::ChangeResult& r, v1::ConfigChangeResult* out) {
  out->set_dry_run(r.dry_run);
  out->set_revision(static_cast<uint64_t>(r.meta.revision));
  out->set_terminals_changed(static_cast<uint64_t>(r.terminals_changed));
  out->set_summary(r.meta.summary);
  for (const core::TargetChange& c : r.sample) {
    v1::TerminalDiff* d = out->add_sample();
    d->set_terminal_id(c.terminal_id);
    for (const core::ParamDiff& p : c.diffs) {
      v1::ParamDiff* pd = d->add_diffs();
      pd->set_key(p.key);
      if (p.before) pd->set_before(*p.before);
      if (p.after) pd->set_after(*p.after);
    }
  }
}

v1::ConfigSyncState ToProto(core::SyncState s) {
  switch (s) {
    case core::SyncState::kInSync:
      return v1::CONFIG_SYNC_STATE_IN_SYNC;
    case core::SyncState::kPending:
      return v1::CONFIG_SYNC_STATE_PENDING;
    case core::SyncState::kRejected:
      return v1::CONFIG_SYNC_STATE_REJECTED;
  }
  return v1::CONFIG_SYNC_STATE_UNSPECIFIED;
}

void ToProto(const core::TerminalConfigStatus& s, v1::TerminalConfigStatus* out) {
  out->set_terminal_id(s.terminal_id);
  out->set_state(ToProto(s.state));
  out->set_desired_revision(static_cast<uint64_t>(s.desired_revision));
  out->set_desired_hash(s.desired_hash);
  out->set_reported_revision(static_cast<uint64_t>(s.reported_revision));
  out->set_reported_hash(s.reported_hash);
  out->set_reason(s.reason);
  if (s.desired_time != absl::InfinitePast()) {
    api::ToProto(s.desired_time, out->mutable_desired_time());
  }
  if (s.report_time != absl::InfinitePast())
    api::ToProto(s.report_time, out->mutable_report_time());
  out->set_online(s.online);
}

void LayerToProto(const core::ParamLayer& l, v1::LayerValues* out) {
  out->set_kind(ToProto(l.kind));
  out->set_id(l.id);
  out->set_priority(l.priority);
  out->mutable_values()->insert(l.values.begin(), l.values.end());
}

}  // namespace

Status ConfigServiceImpl::GetSchema(ServerContext* ctx, const v1::GetSchemaRequest* req,
                                    v1::GetSchemaResponse* resp) {
  return handler_.Run(ctx, "GetSchema", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::ConfigHead head,
                     registry_.Layers(actor, req->tenant_id(), core::Method::kGetConfigSchema));
    resp->set_revision(static_cast<uint64_t>(head.meta.revision));
    resp->set_schema_version(static_cast<uint64_t>(head.meta.schema_version));
    for (const auto& [key, spec] : head.params.schema) posfleet::ToProto(spec, resp->add_specs());
    std::vector<const core::ParamGroup*> groups;
    for (const core::ParamGroup& g : head.params.groups) groups.push_back(&g);
    std::sort(groups.begin(), groups.end(),
              [](const auto* a, const auto* b) { return a->layer.priority > b->layer.priority; });
    for (const core::ParamGroup* g : groups) {
      v1::ParamGroup* out = resp->add_groups();
      out->set_name(g->layer.id);
      out->set_selector(g->selector_text);
      out->set_priority(g->layer.priority);
    }
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::UpdateSchema(ServerContext* ctx, const v1::UpdateSchemaRequest* req,
                                       v1::ConfigChangeResult* resp) {
  return handler_.Run(ctx, "UpdateSchema", *req, [&](const core::Actor& actor) -> absl::Status {
    core::SchemaChange change;
    for (const v1::ParamSpec& s : req->upsert()) {
      ASSIGN_OR_RETURN(ParamSpec spec, posfleet::FromProto(s));
      change.upsert.push_back(std::move(spec));
    }
    change.remove.assign(req->remove().begin(), req->remove().end());
    change.rename.insert(req->rename().begin(), req->rename().end());
    ASSIGN_OR_RETURN(core::ChangeResult r,
                     registry_.UpdateSchema(actor, req->tenant_id(), change, Options(*req)));
    ToProto(r, resp);
    if (!r.dry_run) on_change_();
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::SetGroup(ServerContext* ctx, const v1::SetGroupRequest* req,
                                   v1::ConfigChangeResult* resp) {
  return handler_.Run(ctx, "SetGroup", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(
        core::ChangeResult r,
        registry_.SetGroup(actor, req->tenant_id(), req->group().name(), req->group().selector(),
                           req->group().priority(), Options(*req)));
    ToProto(r, resp);
    if (!r.dry_run) on_change_();
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::DeleteGroup(ServerContext* ctx, const v1::DeleteGroupRequest* req,
                                      v1::ConfigChangeResult* resp) {
  return handler_.Run(ctx, "DeleteGroup", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::ChangeResult r,
                     registry_.DeleteGroup(actor, req->tenant_id(), req->name(), Options(*req)));
    ToProto(r, resp);
    if (!r.dry_run) on_change_();
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::SetValues(ServerContext* ctx, const v1::SetValuesRequest* req,
                                    v1::ConfigChangeResult* resp) {
  return handler_.Run(ctx, "SetValues", *req, [&](const core::Actor& actor) -> absl::Status {
    core::ValueChange change;
    ASSIGN_OR_RETURN(change.kind, FromProto(req->kind()));
    change.id = req->id();
    change.set.insert(req->set().begin(), req->set().end());
    change.unset.assign(req->unset().begin(), req->unset().end());
    change.add.insert(req->add().begin(), req->add().end());
    change.remove.insert(req->remove().begin(), req->remove().end());
    ASSIGN_OR_RETURN(core::ChangeResult r,
                     registry_.SetValues(actor, req->tenant_id(), change,
                                         Options(*req, req->has_sample() ? req->sample() : 5)));
    ToProto(r, resp);
    if (!r.dry_run) on_change_();
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::GetLayers(ServerContext* ctx, const v1::GetLayersRequest* req,
                                    v1::GetLayersResponse* resp) {
  return handler_.Run(ctx, "GetLayers", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::ConfigHead head, registry_.Layers(actor, req->tenant_id()));
    resp->set_revision(static_cast<uint64_t>(head.meta.revision));
    LayerToProto(head.params.tenant, resp->add_layers());
    for (const core::ParamGroup& g : head.params.groups) {
      v1::LayerValues* out = resp->add_layers();
      LayerToProto(g.layer, out);
      out->set_selector(g.selector_text);
    }
    for (const auto& [id, l] : head.params.merchants) LayerToProto(l, resp->add_layers());
    for (const auto& [id, l] : head.params.terminals) LayerToProto(l, resp->add_layers());
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::ListRevisions(ServerContext* ctx, const v1::ListRevisionsRequest* req,
                                        v1::ListRevisionsResponse* resp) {
  return handler_.Run(ctx, "ListRevisions", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(
        core::Page<core::ConfigRevision> page,
        registry_.Revisions(actor, req->tenant_id(), req->page_size(), req->page_token()));
    for (const core::ConfigRevision& m : page.items) ToProto(m, resp->add_revisions());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::DiffRevisions(ServerContext* ctx, const v1::DiffRevisionsRequest* req,
                                        v1::DiffRevisionsResponse* resp) {
  return handler_.Run(ctx, "DiffRevisions", *req, [&](const core::Actor& actor) -> absl::Status {
    if (req->revision() > static_cast<uint64_t>(INT64_MAX) ||
        req->base() > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError("revision: out of range");
    }
    ASSIGN_OR_RETURN(core::RevisionDiff diff,
                     registry_.Diff(actor, req->tenant_id(), static_cast<int64_t>(req->revision()),
                                    static_cast<int64_t>(req->base())));
    resp->set_revision(static_cast<uint64_t>(diff.revision));
    resp->set_base(static_cast<uint64_t>(diff.base));
    for (const core::ConfigEdit& e : diff.edits) {
      v1::ConfigEdit* out = resp->add_edits();
      switch (e.part) {
        case core::ConfigEdit::Part::kSchema:
          out->set_part(v1::CONFIG_EDIT_PART_SCHEMA);
          break;
        case core::ConfigEdit::Part::kGroup:
          out->set_part(v1::CONFIG_EDIT_PART_GROUP);
          out->set_kind(v1::LAYER_KIND_GROUP);
          break;
        case core::ConfigEdit::Part::kValue:
          out->set_part(v1::CONFIG_EDIT_PART_VALUE);
          out->set_kind(ToProto(e.kind));
          break;
      }
      out->set_id(e.id);
      out->set_key(e.key);
      if (e.before) out->set_before(*e.before);
      if (e.after) out->set_after(*e.after);
    }
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::RestoreRevision(ServerContext* ctx, const v1::RestoreRevisionRequest* req,
                                          v1::ConfigChangeResult* resp) {
  return handler_.Run(ctx, "RestoreRevision", *req, [&](const core::Actor& actor) -> absl::Status {
    if (req->revision() > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError("revision: out of range");
    }
    ASSIGN_OR_RETURN(core::ChangeResult r,
                     registry_.Restore(actor, req->tenant_id(),
                                       static_cast<int64_t>(req->revision()), Options(*req)));
    ToProto(r, resp);
    if (!r.dry_run) on_change_();
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::GetEffectiveConfig(ServerContext* ctx,
                                             const v1::GetEffectiveConfigRequest* req,
                                             v1::GetEffectiveConfigResponse* resp) {
  return handler_.Run(
      ctx, "GetEffectiveConfig", *req, [&](const core::Actor& actor) -> absl::Status {
        ASSIGN_OR_RETURN(core::EffectiveConfig e, registry_.Effective(actor, req->terminal_id()));
        resp->set_revision(static_cast<uint64_t>(e.meta.revision));
        resp->set_hash(e.hash);
        for (const auto& [key, p] : e.params) {
          v1::EffectiveParam* out = resp->add_params();
          out->set_key(key);
          out->set_value(p.value);
          out->set_source(ToProto(p.source));
          out->set_source_id(p.source_id);
        }
        if (e.status) ToProto(*e.status, resp->mutable_status());
        return absl::OkStatus();
      });
}

Status ConfigServiceImpl::Explain(ServerContext* ctx, const v1::ExplainRequest* req,
                                  v1::ExplainResponse* resp) {
  return handler_.Run(ctx, "Explain", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Explanation e, registry_.Explain(actor, req->terminal_id(), req->key()));
    resp->set_revision(static_cast<uint64_t>(e.meta.revision));
    for (const core::ExplainedKey& k : e.keys) {
      v1::ExplainedParam* out = resp->add_params();
      out->set_key(k.key);
      for (const core::ExplainStep& s : k.steps) {
        v1::ExplainStep* step = out->add_steps();
        step->set_kind(ToProto(s.kind));
        step->set_id(s.id);
        step->set_priority(s.priority);
        step->set_value(s.value);
        step->set_wins(s.wins);
        step->set_why(s.why);
      }
    }
    return absl::OkStatus();
  });
}

Status ConfigServiceImpl::ListDrift(ServerContext* ctx, const v1::ListDriftRequest* req,
                                    v1::ListDriftResponse* resp) {
  return handler_.Run(ctx, "ListDrift", *req, [&](const core::Actor& actor) -> absl::Status {
    std::optional<core::SyncState> state;
    switch (req->state()) {
      case v1::CONFIG_SYNC_STATE_UNSPECIFIED:
        break;
      case v1::CONFIG_SYNC_STATE_IN_SYNC:
        state = core::SyncState::kInSync;
        break;
      case v1::CONFIG_SYNC_STATE_PENDING:
        state = core::SyncState::kPending;
        break;
      case v1::CONFIG_SYNC_STATE_REJECTED:
        state = core::SyncState::kRejected;
        break;
      default:
        return absl::InvalidArgumentError("state: unknown");
    }
    ASSIGN_OR_RETURN(core::DriftPage d, registry_.Drift(actor, req->tenant_id(), state,
                                                        req->page_size(), req->page_token()));
    for (const core::TerminalConfigStatus& s : d.page.items) ToProto(s, resp->add_terminals());
    resp->set_next_page_token(d.page.next_page_token);
    resp->set_in_sync(static_cast<uint64_t>(d.counts.in_sync));
    resp->set_pending(static_cast<uint64_t>(d.counts.pending));
    resp->set_rejected(static_cast<uint64_t>(d.counts.rejected));
    return absl::OkStatus();
  });
}

}  // namespace posfleet::api

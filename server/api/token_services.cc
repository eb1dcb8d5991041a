// TokenService and AuditService.

#include "common/status_macros.h"
#include "server/api/services.h"

namespace posfleet::api {

Status TokenServiceImpl::CreateToken(ServerContext* ctx, const v1::CreateTokenRequest* req,
                                     v1::CreateTokenResponse* resp) {
  return handler_.Run(ctx, "CreateToken", *req, [&](const core::Actor& actor) -> absl::Status {
    std::optional<core::Role> role = FromProto(req->role());
    if (!role)
      return absl::InvalidArgumentError("role: is required (admin, operator, technician, viewer)");
    ASSIGN_OR_RETURN(core::IssuedToken issued,
                     registry_.Create(actor, req->name(), *role, req->tenant_id()));
    ToProto(issued.token, resp->mutable_token());
    resp->set_secret(issued.secret);
    return absl::OkStatus();
  });
}

Status TokenServiceImpl::ListTokens(ServerContext* ctx, const v1::ListTokensRequest* req,
                                    v1::ListTokensResponse* resp) {
  return handler_.Run(ctx, "ListTokens", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(auto page, registry_.List(actor, req->tenant_id(), req->include_revoked(),
                                               req->page_size(), req->page_token()));
    for (const core::Token& t : page.items) ToProto(t, resp->add_tokens());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status TokenServiceImpl::RevokeToken(ServerContext* ctx, const v1::RevokeTokenRequest* req,
                                     v1::Token* resp) {
  return handler_.Run(ctx, "RevokeToken", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Token t, registry_.Revoke(actor, req->id()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TokenServiceImpl::WhoAmI(ServerContext* ctx, const v1::WhoAmIRequest* req, v1::Token* resp) {
  return handler_.Run(ctx, "WhoAmI", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Token t, registry_.WhoAmI(actor));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status AuditServiceImpl::ListAuditEntries(ServerContext* ctx,
                                          const v1::ListAuditEntriesRequest* req,
                                          v1::ListAuditEntriesResponse* resp) {
  return handler_.Run(ctx, "ListAuditEntries", *req, [&](const core::Actor& actor) -> absl::Status {
    core::AuditQuery query;
    query.tenant_id = req->tenant_id();
    query.actor_id = req->actor_id();
    query.target_id = req->target_id();
    query.start_time = FromProto(req->start_time(), req->has_start_time());
    query.end_time = FromProto(req->end_time(), req->has_end_time());
    query.page_size = req->page_size();
    query.page_token = req->page_token();
    ASSIGN_OR_RETURN(auto page, reader_.List(actor, query));
    for (const core::AuditEntry& e : page.items) ToProto(e, resp->add_entries());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

}  // namespace posfleet::api

// MerchantService and TenantService.

#include "common/status_macros.h"
#include "server/api/services.h"

namespace posfleet::api {

Status MerchantServiceImpl::CreateMerchant(ServerContext* ctx, const v1::CreateMerchantRequest* req,
                                           v1::Merchant* resp) {
  return handler_.Run(ctx, "CreateMerchant", *req, [&](const core::Actor& actor) -> absl::Status {
    core::Merchant m;
    m.tenant_id = req->tenant_id();
    m.name = req->name();
    m.mid = req->mid();
    m.country = req->country();
    ASSIGN_OR_RETURN(core::Merchant created, registry_.Create(actor, m));
    ToProto(created, resp);
    return absl::OkStatus();
  });
}

Status MerchantServiceImpl::GetMerchant(ServerContext* ctx, const v1::GetMerchantRequest* req,
                                        v1::Merchant* resp) {
  return handler_.Run(ctx, "GetMerchant", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Merchant m, registry_.Get(actor, req->id()));
    ToProto(m, resp);
    return absl::OkStatus();
  });
}

Status MerchantServiceImpl::ListMerchants(ServerContext* ctx, const v1::ListMerchantsRequest* req,
                                          v1::ListMerchantsResponse* resp) {
  return handler_.Run(ctx, "ListMerchants", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(auto page,
                     registry_.List(actor, req->tenant_id(), req->page_size(), req->page_token()));
    for (const core::Merchant& m : page.items) ToProto(m, resp->add_merchants());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status MerchantServiceImpl::UpdateMerchant(ServerContext* ctx, const v1::UpdateMerchantRequest* req,
                                           v1::Merchant* resp) {
  return handler_.Run(ctx, "UpdateMerchant", *req, [&](const core::Actor& actor) -> absl::Status {
    core::MerchantUpdate update;
    if (req->has_name()) update.name = req->name();
    if (req->has_country()) update.country = req->country();
    ASSIGN_OR_RETURN(core::Merchant m, registry_.Update(actor, req->id(), update));
    ToProto(m, resp);
    return absl::OkStatus();
  });
}

Status MerchantServiceImpl::DeleteMerchant(ServerContext* ctx, const v1::DeleteMerchantRequest* req,
                                           Empty*) {
  return handler_.Run(ctx, "DeleteMerchant", *req,
                      [&](const core::Actor& actor) { return registry_.Delete(actor, req->id()); });
}

Status TenantServiceImpl::CreateTenant(ServerContext* ctx, const v1::CreateTenantRequest* req,
                                       v1::Tenant* resp) {
  return handler_.Run(ctx, "CreateTenant", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Tenant t, registry_.Create(actor, req->name()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TenantServiceImpl::GetTenant(ServerContext* ctx, const v1::GetTenantRequest* req,
                                    v1::Tenant* resp) {
  return handler_.Run(ctx, "GetTenant", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Tenant t, registry_.Get(actor, req->id()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TenantServiceImpl::ListTenants(ServerContext* ctx, const v1::ListTenantsRequest* req,
                                      v1::ListTenantsResponse* resp) {
  return handler_.Run(ctx, "ListTenants", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(auto page, registry_.List(actor, req->page_size(), req->page_token()));
    for (const core::Tenant& t : page.items) ToProto(t, resp->add_tenants());
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

Status TenantServiceImpl::UpdateTenant(ServerContext* ctx, const v1::UpdateTenantRequest* req,
                                       v1::Tenant* resp) {
  return handler_.Run(ctx, "UpdateTenant", *req, [&](const core::Actor& actor) -> absl::Status {
    ASSIGN_OR_RETURN(core::Tenant t, registry_.Rename(actor, req->id(), req->name()));
    ToProto(t, resp);
    return absl::OkStatus();
  });
}

Status TenantServiceImpl::DeleteTenant(ServerContext* ctx, const v1::DeleteTenantRequest* req,
                                       Empty*) {
  return handler_.Run(ctx, "DeleteTenant", *req,
                      [&](const core::Actor& actor) { return registry_.Delete(actor, req->id()); });
}

}  // namespace posfleet::api

#include "server/core/tenant_registry.h"

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {

absl::StatusOr<Tenant> TenantRegistry::Create(const Actor& actor, absl::string_view name) {
  Tenant t;
  t.id = NewId("ten");
  t.name = std::string(name);
  AuditEntry audit = BeginAudit(actor, Method::kCreateTenant, "tenant", t.id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Tenant> {
    RETURN_IF_ERROR(Authorize(actor, Method::kCreateTenant));
    RETURN_IF_ERROR(ValidateTenantName(name));
    AuditEntry committed = audit;
    committed.tenant_id = t.id;
    committed.summary = absl::StrCat("created tenant \"", name, "\"");
    return store_.CreateTenant(t, committed);
  });
}

absl::StatusOr<Tenant> TenantRegistry::Get(const Actor& actor, absl::string_view id) {
  RETURN_IF_ERROR(Authorize(actor, Method::kGetTenant));
  RETURN_IF_ERROR(ValidateId("id", id, "ten"));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  return store_.GetTenant(scope, id);
}

absl::StatusOr<Page<Tenant>> TenantRegistry::List(const Actor& actor, int page_size,
                                                  absl::string_view page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListTenants));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  return FetchPage<Tenant>(absl::StrCat("tenants|", scope.tenant_id), page_size, page_token,
                           [&](const Window& w) { return store_.ListTenants(scope, w); });
}

absl::StatusOr<Tenant> TenantRegistry::Rename(const Actor& actor, absl::string_view id,
                                              absl::string_view name) {
  AuditEntry audit = BeginAudit(actor, Method::kUpdateTenant, "tenant", id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Tenant> {
    RETURN_IF_ERROR(Authorize(actor, Method::kUpdateTenant));
    RETURN_IF_ERROR(ValidateId("id", id, "ten"));
    RETURN_IF_ERROR(ValidateTenantName(name));
    Mutation<Tenant> mutate = [&](Tenant& t) -> absl::StatusOr<std::string> {
      if (t.name == name) return std::string("no change");
      std::string summary = absl::StrCat("name \"", t.name, "\" -> \"", name, "\"");
      t.name = std::string(name);
      return summary;
    };
    return store_.UpdateTenant(id, mutate, audit);
  });
}

absl::Status TenantRegistry::Delete(const Actor& actor, absl::string_view id) {
  AuditEntry audit = BeginAudit(actor, Method::kDeleteTenant, "tenant", id);
  return Audited(audit_, audit, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(actor, Method::kDeleteTenant));
    RETURN_IF_ERROR(ValidateId("id", id, "ten"));
    AuditEntry committed = audit;
    committed.tenant_id = std::string(id);
    committed.summary = "deleted tenant";
    return store_.DeleteTenant(id, committed);
  });
}

}  // namespace posfleet::core

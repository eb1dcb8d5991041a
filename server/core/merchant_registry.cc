#include "server/core/merchant_registry.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {

absl::StatusOr<Merchant> MerchantRegistry::Create(const Actor& actor, Merchant m) {
  m.id = NewId("mer");
  AuditEntry audit = BeginAudit(actor, Method::kCreateMerchant, "merchant", m.id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Merchant> {
    RETURN_IF_ERROR(Authorize(actor, Method::kCreateMerchant));
    RETURN_IF_ERROR(ValidateMerchant(m));
    if (actor.global() && m.tenant_id.empty()) {
      return absl::InvalidArgumentError("tenant_id: is required for a global token");
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, m.tenant_id));
    m.tenant_id = scope.tenant_id;
    AuditEntry committed = audit;
    committed.summary = absl::StrCat("created merchant \"", m.name, "\" mid ", m.mid,
                                     m.country.empty() ? "" : " country ", m.country);
    return store_.CreateMerchant(m, committed);
  });
}

absl::StatusOr<Merchant> MerchantRegistry::Get(const Actor& actor, absl::string_view id) {
  RETURN_IF_ERROR(Authorize(actor, Method::kGetMerchant));
  RETURN_IF_ERROR(ValidateId("id", id, "mer"));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  return store_.GetMerchant(scope, id);
}

absl::StatusOr<Page<Merchant>> MerchantRegistry::List(const Actor& actor,
                                                      absl::string_view tenant_id, int page_size,
                                                      absl::string_view page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListMerchants));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
  return FetchPage<Merchant>(absl::StrCat("merchants|", scope.tenant_id), page_size, page_token,
                             [&](const Window& w) { return store_.ListMerchants(scope, w); });
}

absl::StatusOr<Merchant> MerchantRegistry::Update(const Actor& actor, absl::string_view id,
                                                  const MerchantUpdate& update) {
  AuditEntry audit = BeginAudit(actor, Method::kUpdateMerchant, "merchant", id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Merchant> {
    RETURN_IF_ERROR(Authorize(actor, Method::kUpdateMerchant));
    RETURN_IF_ERROR(ValidateId("id", id, "mer"));
    if (!update.name && !update.country) {
      return absl::InvalidArgumentError("nothing to update: give name or country");
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    Mutation<Merchant> mutate = [&](Merchant& m) -> absl::StatusOr<std::string> {
      std::vector<std::string> changes;
      if (update.name && *update.name != m.name) {
        changes.push_back(absl::StrCat("name \"", m.name, "\" -> \"", *update.name, "\""));
        m.name = *update.name;
      }
      if (update.country && *update.country != m.country) {
        changes.push_back(absl::StrCat("country \"", m.country, "\" -> \"", *update.country, "\""));
        m.country = *update.country;
      }
      RETURN_IF_ERROR(ValidateMerchant(m));
      if (changes.empty()) return std::string("no change");
      return absl::StrJoin(changes, " ");
    };
    return store_.UpdateMerchant(scope, id, mutate, audit);
  });
}

absl::Status MerchantRegistry::Delete(const Actor& actor, absl::string_view id) {
  AuditEntry audit = BeginAudit(actor, Method::kDeleteMerchant, "merchant", id);
  return Audited(audit_, audit, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(actor, Method::kDeleteMerchant));
    RETURN_IF_ERROR(ValidateId("id", id, "mer"));
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    AuditEntry committed = audit;
    committed.summary = "deleted merchant";
    return store_.DeleteMerchant(scope, id, committed);
  });
}

}  // namespace posfleet::core

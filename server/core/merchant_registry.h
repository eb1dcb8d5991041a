#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/organisation.h"

namespace posfleet::core {

struct MerchantUpdate {
  std::optional<std::string> name;
  std::optional<std::string> country;
};

// Merchants of a tenant: validation, authorization and audit around core::Store.
class MerchantRegistry {
 public:
  MerchantRegistry(OrganisationRepository& store, AuditLog& audit) : store_(store), audit_(audit) {}

  // `m.tenant_id` may be empty for scoped actors (their own tenant is used); global actors must
  // name the tenant.
  absl::StatusOr<Merchant> Create(const Actor& actor, Merchant m);
  absl::StatusOr<Merchant> Get(const Actor& actor, absl::string_view id);
  absl::StatusOr<Page<Merchant>> List(const Actor& actor, absl::string_view tenant_id,
                                      int page_size, absl::string_view page_token);
  absl::StatusOr<Merchant> Update(const Actor& actor, absl::string_view id,
                                  const MerchantUpdate& update);
  // FailedPrecondition while terminals still belong to the merchant.
  absl::Status Delete(const Actor& actor, absl::string_view id);

 private:
  OrganisationRepository& store_;
  AuditLog& audit_;
};

}  // namespace posfleet::core

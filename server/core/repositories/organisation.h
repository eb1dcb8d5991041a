#pragma once

// Tenants (acquirers) and their merchants.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

class OrganisationRepository {
 public:
  virtual ~OrganisationRepository() = default;

  // Tenants. Tenant rows are global; scoped callers only ever pass their own id.
  virtual absl::StatusOr<Tenant> CreateTenant(const Tenant& tenant, AuditEntry audit) = 0;
  virtual absl::StatusOr<Tenant> GetTenant(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Tenant>> ListTenants(const Scope& scope, const Window& window) = 0;
  virtual absl::StatusOr<Tenant> UpdateTenant(absl::string_view id, const Mutation<Tenant>& mutate,
                                              AuditEntry audit) = 0;
  virtual absl::Status DeleteTenant(absl::string_view id, AuditEntry audit) = 0;

  // Merchants. NotFound if the merchant's tenant does not exist or is outside the scope.
  virtual absl::StatusOr<Merchant> CreateMerchant(const Merchant& merchant, AuditEntry audit) = 0;
  virtual absl::StatusOr<Merchant> GetMerchant(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Merchant>> ListMerchants(const Scope& scope,
                                                        const Window& window) = 0;
  virtual absl::StatusOr<Merchant> UpdateMerchant(const Scope& scope, absl::string_view id,
                                                  const Mutation<Merchant>& mutate,
                                                  AuditEntry audit) = 0;
  virtual absl::Status DeleteMerchant(const Scope& scope, absl::string_view id,
                                      AuditEntry audit) = 0;
};

}  // namespace posfleet::core

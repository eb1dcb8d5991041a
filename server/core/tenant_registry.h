#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/organisation.h"

namespace posfleet::core {

// Tenants (acquirers): created, renamed and deleted by global admins only; every caller can read
// the tenant it belongs to.
class TenantRegistry {
 public:
  TenantRegistry(OrganisationRepository& store, AuditLog& audit) : store_(store), audit_(audit) {}

  absl::StatusOr<Tenant> Create(const Actor& actor, absl::string_view name);
  absl::StatusOr<Tenant> Get(const Actor& actor, absl::string_view id);
  absl::StatusOr<Page<Tenant>> List(const Actor& actor, int page_size,
                                    absl::string_view page_token);
  absl::StatusOr<Tenant> Rename(const Actor& actor, absl::string_view id, absl::string_view name);
  // FailedPrecondition while merchants still belong to the tenant; its tokens go with it.
  absl::Status Delete(const Actor& actor, absl::string_view id);

 private:
  OrganisationRepository& store_;
  AuditLog& audit_;
};

}  // namespace posfleet::core

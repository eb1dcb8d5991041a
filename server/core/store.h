#pragma once

// The storage of posfleet: one repository per aggregate (server/core/repositories/), which core
// services take one by one; the PostgreSQL implementation of all of them is store::PgStore, the
// in-memory fakes for core tests are in tests/support/fakes/.

#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/configuration.h"
#include "server/core/repositories/enrollment.h"
#include "server/core/repositories/organisation.h"
#include "server/core/repositories/partitions.h"
#include "server/core/repositories/presence.h"
#include "server/core/repositories/terminals.h"
#include "server/core/repositories/tokens.h"
#include "server/core/repositories/transactions.h"
#include "server/core/repositories/unit_of_work.h"

namespace posfleet::core {

class Store : public OrganisationRepository,
              public TerminalRepository,
              public TokenRepository,
              public EnrollmentRepository,
              public PresenceRepository,
              public TransactionRepository,
              public ConfigRepository,
              public AuditLog,
              public PartitionUpkeep,
              public UnitOfWork {
 public:
  ~Store() override = default;
};

}  // namespace posfleet::core

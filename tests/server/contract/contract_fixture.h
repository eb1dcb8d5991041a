#pragma once

// The repository contract (issue 17, item 2): every case runs against the in-memory fakes of
// tests/support/fakes/ and against PgStore on a real PostgreSQL, so a fake that drifts from the
// store fails here. Cases assert only what the repository interfaces promise, never a store's
// own row positions or clock.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "common/random.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/configuration.h"
#include "server/core/repositories/enrollment.h"
#include "server/core/repositories/organisation.h"
#include "server/core/repositories/presence.h"
#include "server/core/repositories/terminals.h"
#include "server/core/repositories/tokens.h"
#include "server/core/repositories/transactions.h"
#include "server/core/repositories/unit_of_work.h"

namespace posfleet::testing {

// One implementation of the repositories under test.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual core::OrganisationRepository& org() = 0;
  virtual core::TerminalRepository& terminals() = 0;
  virtual core::TokenRepository& tokens() = 0;
  virtual core::AuditLog& audit() = 0;
  virtual core::PresenceRepository& presence() = 0;
  virtual core::TransactionRepository& txns() = 0;
  virtual core::EnrollmentRepository& enrollment() = 0;
  virtual core::ConfigRepository& config() = 0;
  virtual core::UnitOfWork& unit() = 0;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

inline void PrintTo(const BackendFactory& f, std::ostream* os) { *os << f.name; }

// "memory" and "postgres".
std::vector<BackendFactory> Backends();

class ContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override { backend_ = GetParam().make(); }

  core::OrganisationRepository& org() { return backend_->org(); }
  core::TerminalRepository& terminals() { return backend_->terminals(); }
  core::TokenRepository& tokens() { return backend_->tokens(); }
  core::AuditLog& audit() { return backend_->audit(); }
  core::PresenceRepository& presence() { return backend_->presence(); }
  core::TransactionRepository& txns() { return backend_->txns(); }
  core::EnrollmentRepository& enrollment() { return backend_->enrollment(); }
  core::UnitOfWork& unit() { return backend_->unit(); }

  static core::AuditEntry Audit(const std::string& method) {
    core::AuditEntry e;
    e.actor_id = "tok_contract";
    e.actor_name = "contract";
    e.role = core::Role::kAdmin;
    e.method = method;
    e.target_type = "test";
    return e;
  }

  core::Tenant NewTenant(const std::string& name = "") {
    auto t = org().CreateTenant({NewId("ten"), name.empty() ? NewId("acq") : name, {}, {}},
                                Audit("CreateTenant"));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : core::Tenant{};
  }

  core::Merchant NewMerchant(const std::string& tenant_id, const std::string& mid = "") {
    core::Merchant m{NewId("mer"), tenant_id, "shop", mid.empty() ? NewId("mid") : mid, "", {}, {}};
    auto created = org().CreateMerchant(m, Audit("CreateMerchant"));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : core::Merchant{};
  }

  static core::Terminal Spec(const std::string& merchant_id, const std::string& serial,
                             core::TerminalState state = core::TerminalState::kActive,
                             core::Labels labels = {}) {
    core::Terminal t;
    t.id = NewId("trm");
    t.merchant_id = merchant_id;
    t.vendor = "PAX";
    t.model = "A920";
    t.serial = serial;
    t.labels = std::move(labels);
    t.state = state;
    return t;
  }

  core::Terminal NewTerminal(const core::Merchant& m, const std::string& serial,
                             core::TerminalState state = core::TerminalState::kActive,
                             core::Labels labels = {}) {
    auto t = terminals().CreateTerminal({}, Spec(m.id, serial, state, std::move(labels)),
                                        Audit("CreateTerminal"));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : core::Terminal{};
  }

  // Every audit entry of `tenant_id`, newest first.
  std::vector<core::AuditEntry> AuditOf(const std::string& tenant_id) {
    core::AuditFilter f;
    f.scope.tenant_id = tenant_id;
    auto slice = audit().ListAudit(f, {0, 1000});
    EXPECT_TRUE(slice.ok()) << slice.status();
    return slice.ok() ? slice->items : std::vector<core::AuditEntry>{};
  }

  std::unique_ptr<Backend> backend_;
};

}  // namespace posfleet::testing

// Core services on the in-memory repositories with simulated time: the rules of core (roles,
// scopes, validation, lifecycle, audit) without PostgreSQL. The repositories' own behaviour is
// pinned by tests/server/contract/ against both implementations.

#include <gtest/gtest.h>

#include "common/random.h"
#include "server/core/terminal_registry.h"
#include "server/core/token_registry.h"
#include "server/core/transaction_ledger.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"

namespace posfleet::core {
namespace {

using testing::MemoryStore;
using testing::SimulatedEnv;

class OnFakes : public ::testing::Test {
 protected:
  OnFakes()
      : env_(absl::FromCivil(absl::CivilSecond(2026, 11, 20, 12, 0, 0), absl::UTCTimeZone())),
        store_(env_) {
    tenant_ = *store_.CreateTenant({NewId("ten"), "Acquirer A", {}, {}}, {});
    other_ = *store_.CreateTenant({NewId("ten"), "Acquirer B", {}, {}}, {});
    a_ = tenant_.id;
    b_ = other_.id;
    merchant_ = *store_.CreateMerchant({NewId("mer"), a_, "shop", "000001", "", {}, {}}, {});
    other_merchant_ = *store_.CreateMerchant({NewId("mer"), b_, "shop", "000001", "", {}, {}}, {});
    terminal_id_ = NewId("trm");
  }

  static Actor ActorOf(Role role, const std::string& tenant) {
    return {"tok_" + std::string(RoleName(role)), "tester", role, tenant};
  }

  // terminal_id_, active in merchant_, never connected.
  void AddActiveTerminal() {
    Terminal spec;
    spec.id = terminal_id_;
    spec.merchant_id = merchant_.id;
    spec.vendor = "PAX";
    spec.model = "A920";
    spec.serial = "S1";
    spec.state = TerminalState::kActive;
    ASSERT_TRUE(store_.CreateTerminal({}, spec, {}).ok());
  }

  std::vector<AuditEntry> Audit(const std::string& tenant) {
    return store_.ListAudit({{tenant}}, {0, 1000})->items;
  }

  SimulatedEnv env_;
  MemoryStore store_;
  Tenant tenant_, other_;
  std::string a_, b_, terminal_id_;
  Merchant merchant_, other_merchant_;
};

TEST_F(OnFakes, ATokenAuthenticatesAsItsRoleAndTenantUntilRevoked) {
  TokenRegistry tokens(store_, store_);
  const Actor admin = ActorOf(Role::kAdmin, "");
  auto issued = tokens.Create(admin, "ops", Role::kOperator, a_);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(LooksLikeSecret(issued->secret));
  auto actor = tokens.Authenticate(issued->secret);
  ASSERT_TRUE(actor.ok()) << actor.status();
  EXPECT_EQ(actor->role, Role::kOperator);
  EXPECT_EQ(actor->tenant_id, a_);
  // A tenant's operator cannot mint an admin, nor reach another tenant's tokens.
  EXPECT_FALSE(tokens.Create(*actor, "x", Role::kAdmin, "").ok());
  EXPECT_FALSE(tokens.Create(*actor, "x", Role::kViewer, b_).ok());
  ASSERT_TRUE(tokens.Revoke(admin, issued->token.id).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(tokens.Authenticate(issued->secret).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(tokens.Authenticate("pft_not-a-secret").status()));
  const auto entries = Audit(a_);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].target_id, issued->token.id);  // the revocation, newest first
  for (const AuditEntry& e : entries) EXPECT_EQ(e.summary.find(issued->secret), std::string::npos);
}

TEST_F(OnFakes, TheBootstrapSecretIsStoredOnce) {
  TokenRegistry tokens(store_, store_);
  auto first = tokens.Bootstrap("");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(LooksLikeSecret(*first));
  EXPECT_EQ(*tokens.Bootstrap(""), "");
  EXPECT_EQ(tokens.Authenticate(*first)->role, Role::kAdmin);
}

TEST_F(OnFakes, ATerminalMovesThroughItsLifecycleAndEveryStepIsAudited) {
  TerminalRegistry registry(store_, store_, store_, store_, store_);
  const Actor op = ActorOf(Role::kOperator, a_);
  auto t = registry.Create(op, {merchant_.id, "PAX", "A920", "S1", "", {{"region", "north"}}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state, TerminalState::kProvisioned);
  EXPECT_TRUE(
      absl::IsNotFound(registry.Create(op, {other_merchant_.id, "PAX", "A920", "S2", "", {}})
                           .status()));  // other tenant
  auto suspended = registry.ChangeLifecycle(op, t->id, LifecycleAction::kSuspend, "held");
  ASSERT_TRUE(suspended.ok()) << suspended.status();
  EXPECT_EQ(suspended->state, TerminalState::kSuspended);
  // Reactivating a terminal that never enrolled brings it back to provisioned.
  EXPECT_EQ(registry.ChangeLifecycle(op, t->id, LifecycleAction::kReactivate, "")->state,
            TerminalState::kProvisioned);
  ASSERT_TRUE(registry.ChangeLifecycle(op, t->id, LifecycleAction::kRetire, "broken").ok());
  auto again = registry.ChangeLifecycle(op, t->id, LifecycleAction::kReactivate, "");
  EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
  // A viewer reads but may not change; another tenant does not see it at all.
  EXPECT_TRUE(registry.Get(ActorOf(Role::kViewer, a_), t->id).ok());
  EXPECT_FALSE(
      registry.ChangeLifecycle(ActorOf(Role::kViewer, a_), t->id, LifecycleAction::kSuspend, "")
          .ok());
  EXPECT_TRUE(absl::IsNotFound(registry.Get(ActorOf(Role::kAdmin, b_), t->id).status()));
  // Create, suspend, reactivate and retire committed; both refusals are audited as refused.
  std::vector<std::string> results;
  for (const AuditEntry& e : Audit(a_)) {
    if (e.target_id == t->id) results.push_back(e.result);
  }
  EXPECT_EQ(results, (std::vector<std::string>{"PERMISSION_DENIED", "FAILED_PRECONDITION", "OK",
                                               "OK", "OK", "OK"}));
}

TEST_F(OnFakes, AListFindsTerminalsThatWentOfflineLongAgo) {
  TerminalRegistry registry(store_, store_, store_, store_, store_);
  const Actor op = ActorOf(Role::kOperator, a_);
  AddActiveTerminal();
  ASSERT_TRUE(store_.ApplyLinkReports({}, {{terminal_id_, 1, {}}}, kNoHistory).ok());
  ASSERT_TRUE(store_.ApplyLinkReports({{terminal_id_, false, 1, ""}}, {}, kNoHistory).ok());
  TerminalQuery q;
  q.offline_for_seconds = 3600;
  EXPECT_TRUE(registry.List(op, q)->items.empty());
  env_.Advance(absl::Hours(2));  // simulated time: no waiting
  auto listed = registry.List(op, q);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].id, terminal_id_);
}

TEST_F(OnFakes, TheLedgerReportsApprovalRatesForTheCallersTenantOnly) {
  AddActiveTerminal();
  std::vector<Txn> records;
  for (int i = 0; i < 4; ++i) {
    Txn t;
    t.terminal_id = terminal_id_;
    t.txn_id = absl::StrCat("tx-", i);
    t.time = env_.Now() - absl::Hours(1);
    t.type = 1;
    t.result = i == 3 ? 2 : 1;  // three approved, one declined
    t.amount_minor = 500;
    t.currency = "EUR";
    records.push_back(t);
  }
  ASSERT_EQ(store_.IngestTransactions(records)->inserted, 4);
  TransactionLedger ledger(store_, env_);
  auto report = ledger.Report(ActorOf(Role::kViewer, a_), {});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->approvals.size(), 1u);
  EXPECT_EQ(report->approvals[0].day, "2026-11-20");  // today by the Env, not the wall clock
  EXPECT_EQ(report->approvals[0].count, 4);
  EXPECT_EQ(report->approvals[0].approved, 3);
  EXPECT_DOUBLE_EQ(report->approvals[0].rate, 0.75);
  EXPECT_TRUE(ledger.Report(ActorOf(Role::kViewer, b_), {})->totals.empty());
  auto listed = ledger.List(ActorOf(Role::kViewer, a_), {});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->items.size(), 4u);
  // A week later the default window (31 days) still holds them; the report's (7 days) does not.
  env_.Advance(absl::Hours(24 * 8));
  EXPECT_EQ(ledger.List(ActorOf(Role::kViewer, a_), {})->items.size(), 4u);
  EXPECT_TRUE(ledger.Report(ActorOf(Role::kViewer, a_), {})->totals.empty());
}

}  // namespace
}  // namespace posfleet::core

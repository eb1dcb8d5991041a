// The contract of the organisation, terminal, token and audit repositories.

#include <set>

#include "server/core/label_selector.h"
#include "tests/server/contract/contract_fixture.h"

namespace posfleet::testing {
namespace {

using core::TerminalState;

TEST_P(ContractTest, TenantNamesAreUniqueAndScopesHideOtherTenants) {
  const core::Tenant a = NewTenant("Acquirer A");
  const core::Tenant b = NewTenant("Acquirer B");
  auto again = org().CreateTenant({NewId("ten"), "Acquirer A", {}, {}}, Audit("CreateTenant"));
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_TRUE(org().GetTenant({}, a.id).ok());
  EXPECT_TRUE(org().GetTenant({a.id}, a.id).ok());
  EXPECT_TRUE(absl::IsNotFound(org().GetTenant({a.id}, b.id).status()));
  auto listed = org().ListTenants({a.id}, {0, 100});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].id, a.id);
}

TEST_P(ContractTest, AWindowPagesThroughEveryRowOnce) {
  const core::Tenant t = NewTenant();
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) created.insert(NewMerchant(t.id).id);
  std::set<std::string> seen;
  core::Window w{0, 2};
  int pages = 0;
  while (true) {
    auto slice = org().ListMerchants({t.id}, w);
    ASSERT_TRUE(slice.ok()) << slice.status();
    ASSERT_LE(slice->items.size(), 2u);
    for (const core::Merchant& m : slice->items) EXPECT_TRUE(seen.insert(m.id).second) << m.id;
    ++pages;
    if (!slice->more) break;
    w.after = slice->last;
  }
  EXPECT_EQ(seen, created);
  EXPECT_EQ(pages, 3);
}

TEST_P(ContractTest, AFailedMutationWritesNothingAndNoAudit) {
  const core::Tenant t = NewTenant();
  const size_t before = AuditOf(t.id).size();
  auto refused = org().UpdateTenant(
      t.id,
      [](core::Tenant& x) -> absl::StatusOr<std::string> {
        x.name = "changed";
        return absl::InvalidArgumentError("no");
      },
      Audit("UpdateTenant"));
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_EQ(org().GetTenant({}, t.id)->name, t.name);
  EXPECT_EQ(AuditOf(t.id).size(), before);

  auto renamed = org().UpdateTenant(
      t.id,
      [](core::Tenant& x) -> absl::StatusOr<std::string> {
        x.name = "renamed";
        return std::string("renamed it");
      },
      Audit("UpdateTenant"));
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->name, "renamed");
  const auto entries = AuditOf(t.id);
  ASSERT_EQ(entries.size(), before + 1);
  EXPECT_EQ(entries[0].summary, "renamed it");  // newest first
  EXPECT_EQ(entries[0].method, "UpdateTenant");
}

TEST_P(ContractTest, MerchantsAreUniquePerTenantAndBlockTheirTenantsDeletion) {
  const core::Tenant a = NewTenant();
  const core::Tenant b = NewTenant();
  const core::Merchant m = NewMerchant(a.id, "000111");
  NewMerchant(b.id, "000111");  // the same mid in another tenant is fine
  auto dup = org().CreateMerchant({NewId("mer"), a.id, "x", "000111", "", {}, {}}, Audit("C"));
  EXPECT_TRUE(absl::IsAlreadyExists(dup.status())) << dup.status();
  auto orphan =
      org().CreateMerchant({NewId("mer"), "ten_missing", "x", "1", "", {}, {}}, Audit("C"));
  EXPECT_TRUE(absl::IsNotFound(orphan.status())) << orphan.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(org().DeleteTenant(a.id, Audit("D"))));
  EXPECT_TRUE(absl::IsNotFound(org().DeleteMerchant({b.id}, m.id, Audit("D"))));
  ASSERT_TRUE(org().DeleteMerchant({a.id}, m.id, Audit("D")).ok());
  EXPECT_TRUE(org().DeleteTenant(a.id, Audit("D")).ok());
  EXPECT_TRUE(absl::IsNotFound(org().GetTenant({}, a.id).status()));
}

TEST_P(ContractTest, ATerminalTakesItsMerchantsTenantAndItsSerialOnce) {
  const core::Tenant a = NewTenant();
  const core::Tenant b = NewTenant();
  const core::Merchant ma = NewMerchant(a.id);
  const core::Terminal t = NewTerminal(ma, "S1");
  EXPECT_EQ(t.tenant_id, a.id);
  EXPECT_FALSE(t.presence.has_value());
  auto dup = terminals().CreateTerminal({}, Spec(ma.id, "S1"), Audit("CreateTerminal"));
  EXPECT_TRUE(absl::IsAlreadyExists(dup.status())) << dup.status();
  auto outside = terminals().CreateTerminal({b.id}, Spec(ma.id, "S2"), Audit("CreateTerminal"));
  EXPECT_TRUE(absl::IsNotFound(outside.status())) << outside.status();
  EXPECT_TRUE(absl::IsNotFound(terminals().GetTerminal({b.id}, t.id).status()));
  auto got = terminals().GetTerminal({a.id}, t.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->serial, "S1");
  EXPECT_EQ(got->state, TerminalState::kActive);
}

TEST_P(ContractTest, ABulkImportCreatesSkipsAndFailsPerItem) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal existing = NewTerminal(m, "S1");
  std::vector<core::Terminal> batch = {Spec(m.id, "S1"), Spec(m.id, "S2"),
                                       Spec("mer_missing", "S3"), Spec(m.id, "S2")};
  auto atomic = terminals().CreateTerminals({a.id}, batch, true, Audit("ImportTerminals"));
  ASSERT_TRUE(atomic.ok()) << atomic.status();
  using Outcome = core::BatchItemResult::Outcome;
  EXPECT_EQ((*atomic)[2].outcome, Outcome::kFailed);
  EXPECT_EQ((*atomic)[2].field, "merchant_id");
  core::TerminalFilter all{{a.id}};
  EXPECT_EQ(terminals().ListTerminals(all, {0, 100})->items.size(), 1u);  // rolled back

  auto results = terminals().CreateTerminals({a.id}, batch, false, Audit("ImportTerminals"));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0].outcome, Outcome::kSkipped);
  EXPECT_EQ((*results)[0].terminal_id, existing.id);
  EXPECT_EQ((*results)[1].outcome, Outcome::kCreated);
  EXPECT_EQ((*results)[2].outcome, Outcome::kFailed);
  EXPECT_EQ((*results)[3].outcome, Outcome::kSkipped);  // the same serial twice in one batch
  EXPECT_EQ((*results)[3].terminal_id, (*results)[1].terminal_id);
  auto created = terminals().GetTerminal({a.id}, (*results)[1].terminal_id);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->state, TerminalState::kProvisioned);
  const auto entries = AuditOf(a.id);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].summary, "bulk import of 4: created 1, skipped 2, failed 1");
  EXPECT_EQ(entries[1].target_id, (*results)[1].terminal_id);
}

TEST_P(ContractTest, FiltersSelectByMerchantStateLabelsModelAndIds) {
  const core::Tenant a = NewTenant();
  const core::Merchant m1 = NewMerchant(a.id);
  const core::Merchant m2 = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(m1, "S1", TerminalState::kActive, {{"region", "north"}});
  const core::Terminal t2 = NewTerminal(m1, "S2", TerminalState::kSuspended, {{"region", "south"}});
  const core::Terminal t3 = NewTerminal(m2, "S3", TerminalState::kActive, {{"model", "A80"}});
  auto ids_of = [&](core::TerminalFilter f) {
    f.scope = {a.id};
    std::vector<std::string> ids;
    auto slice = terminals().ListTerminals(f, {0, 100});
    EXPECT_TRUE(slice.ok()) << slice.status();
    for (const core::Terminal& t : slice->items) ids.push_back(t.id);
    return ids;
  };
  using V = std::vector<std::string>;
  core::TerminalFilter f;
  EXPECT_EQ(ids_of(f), (V{t1.id, t2.id, t3.id}));  // in creation order
  f.merchant_id = m1.id;
  EXPECT_EQ(ids_of(f), (V{t1.id, t2.id}));
  f = {};
  f.state = TerminalState::kActive;
  EXPECT_EQ(ids_of(f), (V{t1.id, t3.id}));
  f = {};
  f.selector = *core::ParseLabelSelector("region notin (north)");
  EXPECT_EQ(ids_of(f), (V{t2.id, t3.id}));
  f.selector = *core::ParseLabelSelector("model in (A920)");  // the field, unless a label says
  EXPECT_EQ(ids_of(f), (V{t1.id, t2.id}));
  f = {};
  f.ids = V{t3.id, "trm_missing"};
  EXPECT_EQ(ids_of(f), (V{t3.id}));
  f = {};
  f.online = false;
  EXPECT_EQ(ids_of(f).size(), 3u);  // never seen counts as not online
  auto summary = terminals().SummarizeFleet({{a.id}});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->terminals, 3);
  EXPECT_EQ(summary->by_state["active"], 2);
  EXPECT_EQ(summary->by_state["suspended"], 1);
  EXPECT_EQ(summary->never_seen, 3);
  EXPECT_EQ(summary->by_model["PAX A920"], 3);
}

TEST_P(ContractTest, AnUpdateKeepsTheTenantAndRefusesAnotherTenantsMerchant) {
  const core::Tenant a = NewTenant();
  const core::Tenant b = NewTenant();
  const core::Merchant ma = NewMerchant(a.id);
  const core::Merchant ma2 = NewMerchant(a.id);
  const core::Merchant mb = NewMerchant(b.id);
  const core::Terminal t = NewTerminal(ma, "S1");
  auto move_to = [&](const std::string& merchant) {
    return terminals().UpdateTerminal(
        {a.id}, t.id,
        [&](core::Terminal& x) -> absl::StatusOr<std::string> {
          x.merchant_id = merchant;
          x.labels["moved"] = "yes";
          x.serial = "ignored";  // not a mutable field
          return std::string("moved");
        },
        Audit("UpdateTerminal"));
  };
  EXPECT_TRUE(absl::IsNotFound(move_to(mb.id).status()));
  auto moved = move_to(ma2.id);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->merchant_id, ma2.id);
  EXPECT_EQ(moved->labels.at("moved"), "yes");
  EXPECT_EQ(moved->serial, "S1");
  EXPECT_EQ(moved->tenant_id, a.id);
  EXPECT_TRUE(absl::IsNotFound(
      terminals()
          .UpdateTerminal(
              {b.id}, t.id, [](core::Terminal&) -> absl::StatusOr<std::string> { return "x"; },
              Audit("UpdateTerminal"))
          .status()));
}

TEST_P(ContractTest, TokensAuthenticateUntilRevokedAndRevokingTwiceChangesNothing) {
  const core::Tenant a = NewTenant();
  core::Token tok{NewId("tok"), "ops", core::Role::kOperator, a.id, "tok_admin", {}, {}};
  ASSERT_TRUE(tokens().CreateToken(tok, "hash-1", Audit("CreateToken")).ok());
  auto orphan =
      tokens().CreateToken({NewId("tok"), "x", core::Role::kViewer, "ten_missing", "t", {}, {}},
                           "hash-2", Audit("CreateToken"));
  EXPECT_TRUE(absl::IsNotFound(orphan.status())) << orphan.status();
  auto who = tokens().Authenticate("hash-1");
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->id, tok.id);
  EXPECT_EQ(who->role, core::Role::kOperator);
  EXPECT_TRUE(absl::IsNotFound(tokens().RevokeToken({"ten_other"}, tok.id, Audit("R")).status()));
  auto revoked = tokens().RevokeToken({a.id}, tok.id, Audit("RevokeToken"));
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(revoked->revoke_time.has_value());
  auto again = tokens().RevokeToken({a.id}, tok.id, Audit("RevokeToken"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revoke_time, revoked->revoke_time);
  EXPECT_TRUE(absl::IsNotFound(tokens().Authenticate("hash-1").status()));
  EXPECT_TRUE(tokens().ListTokens({a.id}, false, {0, 10})->items.empty());
  EXPECT_EQ(tokens().ListTokens({a.id}, true, {0, 10})->items.size(), 1u);
}

TEST_P(ContractTest, TheAdminIsBootstrappedOnlyWhileNoGlobalAdminIsValid) {
  core::Token admin{NewId("tok"), "bootstrap", core::Role::kAdmin, "", "system", {}, {}};
  auto first = tokens().BootstrapAdmin(admin, "boot-hash", Audit("Bootstrap"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  core::Token other{NewId("tok"), "bootstrap", core::Role::kAdmin, "", "system", {}, {}};
  auto second = tokens().BootstrapAdmin(other, "other-hash", Audit("Bootstrap"));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  ASSERT_TRUE(tokens().RevokeToken({}, admin.id, Audit("RevokeToken")).ok());
  auto reused = tokens().BootstrapAdmin(other, "boot-hash", Audit("Bootstrap"));
  EXPECT_TRUE(absl::IsAlreadyExists(reused.status())) << reused.status();
  auto fresh = tokens().BootstrapAdmin(other, "other-hash", Audit("Bootstrap"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(*fresh);
  EXPECT_EQ(tokens().Authenticate("other-hash")->created_by, "system");
}

TEST_P(ContractTest, TheAuditLogListsNewestFirstAndFilters) {
  for (int i = 0; i < 3; ++i) {
    core::AuditEntry e = Audit(absl::StrCat("M", i));
    e.tenant_id = "ten_x";
    e.target_id = i == 1 ? "trm_1" : "trm_2";
    ASSERT_TRUE(audit().AppendAudit(e).ok());
  }
  auto entries = AuditOf("ten_x");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].method, "M2");
  EXPECT_EQ(entries[2].method, "M0");
  EXPECT_LE(entries[2].time, entries[0].time);
  core::AuditFilter f{{"ten_x"}, "", "trm_1"};
  auto one = audit().ListAudit(f, {0, 10});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0].method, "M1");
  auto page = audit().ListAudit({{"ten_x"}}, {0, 2});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->more);
  auto rest = audit().ListAudit({{"ten_x"}}, {page->last, 2});
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].method, "M0");
  EXPECT_FALSE(rest->more);
  f = {{"ten_x"}};
  f.end_time = entries[2].time;  // exclusive
  EXPECT_TRUE(audit().ListAudit(f, {0, 10})->items.empty());
}

}  // namespace
}  // namespace posfleet::testing

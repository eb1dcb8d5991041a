// The contract of the configuration repository: revisions, each terminal's desired set, publish
// claims, reports and sync state, and resealing.

#include <set>

#include "absl/strings/str_cat.h"
#include "common/secret_box.h"
#include "common/status_macros.h"
#include "server/core/label_selector.h"
#include "tests/server/contract/contract_fixture.h"

namespace posfleet::testing {
namespace {

using core::ConfigRevision;
using core::SyncState;
using core::TenantParams;
using core::TerminalState;

ParamSpec StringSpec(const std::string& key, const std::string& default_value) {
  ParamSpec spec;
  spec.key = key;
  spec.type = ParamType::kString;
  spec.default_value = default_value;
  return spec;
}

// A change that adds `spec`.
core::ConfigChange AddSpec(ParamSpec spec) {
  return [spec](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
    p.schema[spec.key] = spec;
    return absl::StrCat("added ", spec.key);
  };
}

// A change that sets `key` on the tenant layer.
core::ConfigChange SetTenantValue(const std::string& key, const std::string& value) {
  return [=](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
    p.tenant.values[key] = value;
    return absl::StrCat("set ", key);
  };
}

// A change that adds group `name` with `selector`, setting `key` to `value` in it.
core::ConfigChange AddGroup(const std::string& name, const std::string& selector,
                            const std::string& key, const std::string& value) {
  return [=](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
    core::ParamGroup g;
    g.selector_text = selector;
    ASSIGN_OR_RETURN(g.selector, core::ParseLabelSelector(selector));
    g.layer = core::ParamLayer{core::LayerKind::kGroup, name, name, 10, {{key, value}}};
    p.groups.push_back(std::move(g));
    return absl::StrCat("group ", name);
  };
}

class ConfigContractTest : public ContractTest {
 protected:
  core::ConfigRepository& config() { return backend_->config(); }

  absl::StatusOr<core::ConfigCommit> Commit(const std::string& tenant_id,
                                            const core::ConfigChange& change,
                                            bool dry_run = false) {
    return config().CommitConfig({}, tenant_id, change, dry_run, 10, Audit("UpdateConfig"));
  }

  // An applied (or rejected) report of `hash` from `terminal_id`.
  static core::ConfigReportIn Report(const std::string& terminal_id, int64_t revision,
                                     const std::string& hash, bool applied = true,
                                     const std::string& error = "") {
    return core::ConfigReportIn{terminal_id, revision, hash, applied, error};
  }

  core::TerminalConfigStatus Status(const std::string& terminal_id) {
    auto s = config().GetTerminalConfig({}, terminal_id);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : core::TerminalConfigStatus{};
  }

  // Claims everything claimable now and releases it at once, publishing nothing; returns the
  // claimed terminal ids.
  std::set<std::string> Claimable() {
    auto claims = config().ClaimUnpublishedConfig(1000, absl::Minutes(1));
    EXPECT_TRUE(claims.ok()) << claims.status();
    std::vector<std::string> ids;
    for (const core::ConfigClaim& c : claims.ok() ? *claims : std::vector<core::ConfigClaim>{}) {
      for (const core::PendingPublish& p : c.rows) ids.push_back(p.target.id);
    }
    EXPECT_TRUE(config().FinishConfigClaims(ids, {}).ok());
    return {ids.begin(), ids.end()};
  }

  std::vector<core::AuditEntry> ConfigAudit(const std::string& tenant_id) {
    std::vector<core::AuditEntry> out;
    for (core::AuditEntry& e : AuditOf(tenant_id)) {
      if (e.method == "UpdateConfig" || e.method == "ResealConfig") out.push_back(std::move(e));
    }
    return out;
  }
};

TEST_P(ConfigContractTest, ACommitIsARevisionWithItsAuditAndADryRunLeavesNothing) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(m, "S1");
  NewTerminal(m, "S2", TerminalState::kSuspended);
  const core::Terminal retired = NewTerminal(m, "S3", TerminalState::kRetired);

  auto empty = config().LoadConfig({}, a.id, 0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->meta.revision, 0);
  EXPECT_TRUE(empty->params.schema.empty());

  auto preview = Commit(a.id, AddSpec(StringSpec("receipt.header", "Thanks")), /*dry_run=*/true);
  ASSERT_TRUE(preview.ok()) << preview.status();
  EXPECT_EQ(preview->meta.revision, 1);
  EXPECT_EQ(preview->terminals_changed, 2);  // not the retired one
  EXPECT_TRUE(preview->schema_changed);
  EXPECT_EQ(config().LoadConfig({}, a.id, 0)->meta.revision, 0);
  EXPECT_TRUE(config().ListConfigRevisions({}, a.id, {0, 10})->items.empty());
  EXPECT_TRUE(ConfigAudit(a.id).empty());
  EXPECT_TRUE(absl::IsNotFound(config().GetTerminalConfig({}, t1.id).status()));

  auto first = Commit(a.id, AddSpec(StringSpec("receipt.header", "Thanks")));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->meta.revision, 1);
  EXPECT_EQ(first->meta.schema_version, 1);
  EXPECT_EQ(first->terminals_changed, 2);
  EXPECT_EQ(first->meta.author, "contract (tok_contract)");
  ASSERT_EQ(first->sample.size(), 2u);
  EXPECT_EQ(first->sample[0].id, t1.id);  // in terminal order
  EXPECT_TRUE(absl::IsNotFound(config().GetTerminalConfig({}, retired.id).status()));

  auto head = config().LoadConfig({}, a.id, 0);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->meta.revision, 1);
  EXPECT_EQ(head->meta.summary, "added receipt.header");
  EXPECT_EQ(head->meta.terminals_changed, 2);
  ASSERT_EQ(head->params.schema.count("receipt.header"), 1u);
  EXPECT_EQ(head->params.schema.at("receipt.header").default_value, "Thanks");
  EXPECT_EQ(config().LoadConfig({}, a.id, 1)->meta.create_time, head->meta.create_time);
  EXPECT_TRUE(absl::IsNotFound(config().LoadConfig({}, a.id, 2).status()));
  const std::vector<core::AuditEntry> audit = ConfigAudit(a.id);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].summary, "revision 1: added receipt.header (2 terminals changed)");

  // A value that gives every terminal what the default already did changes no terminal.
  auto second = Commit(a.id, SetTenantValue("receipt.header", "Thanks"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->meta.revision, 2);
  EXPECT_EQ(second->meta.schema_version, 1);
  EXPECT_FALSE(second->schema_changed);
  EXPECT_EQ(second->terminals_changed, 0);
  EXPECT_GE(second->meta.create_time, head->meta.create_time);
  EXPECT_EQ(Status(t1.id).desired_revision, 1);

  // A failed change leaves no revision and no audit entry.
  auto failed = Commit(a.id, [](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
    p.tenant.values["receipt.header"] = "changed";
    return absl::FailedPreconditionError("refused");
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(failed.status()));
  EXPECT_EQ(config().LoadConfig({}, a.id, 0)->meta.revision, 2);
  EXPECT_EQ(ConfigAudit(a.id).size(), 2u);
}

TEST_P(ConfigContractTest, AnotherTenantsConfigurationIsNotFound) {
  const core::Tenant a = NewTenant();
  const core::Tenant b = NewTenant();
  const core::Terminal t = NewTerminal(NewMerchant(a.id), "S1");
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());
  const core::Scope as_b{b.id};
  EXPECT_TRUE(absl::IsNotFound(config().LoadConfig(as_b, a.id, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(
      config()
          .CommitConfig(as_b, a.id, SetTenantValue("k", "w"), false, 1, Audit("UpdateConfig"))
          .status()));
  EXPECT_TRUE(absl::IsNotFound(config().ListConfigRevisions(as_b, a.id, {0, 10}).status()));
  EXPECT_TRUE(absl::IsNotFound(config().GetTerminalConfig(as_b, t.id).status()));
  EXPECT_TRUE(absl::IsNotFound(config().ListConfigDrift(as_b, a.id, {}, {0, 10}).status()));
  EXPECT_TRUE(absl::IsNotFound(config().CountConfigSync(as_b, a.id).status()));
  EXPECT_TRUE(absl::IsNotFound(config().LoadConfig({}, "ten_missing", 0).status()));
  EXPECT_EQ(config().LoadConfig({a.id}, a.id, 0)->meta.revision, 1);
}

TEST_P(ConfigContractTest, RevisionsAreListedNewestFirstInWindows) {
  const core::Tenant a = NewTenant();
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());
  ASSERT_TRUE(Commit(a.id, SetTenantValue("k", "w")).ok());
  ASSERT_TRUE(Commit(a.id, SetTenantValue("k", "x")).ok());
  auto page = config().ListConfigRevisions({}, a.id, {0, 2});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].revision, 3);
  EXPECT_EQ(page->items[1].revision, 2);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->last, 2);
  auto rest = config().ListConfigRevisions({}, a.id, {page->last, 2});
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].revision, 1);
  EXPECT_FALSE(rest->more);
}

TEST_P(ConfigContractTest, AnOversizedSetIsRefusedAndNothingIsStored) {
  const core::Tenant a = NewTenant();
  NewTerminal(NewMerchant(a.id), "S1");
  auto refused = Commit(a.id, [](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
    for (int i = 0; i < 250; ++i) {
      const std::string key = absl::StrCat("blob.k", i);
      p.schema[key] = StringSpec(key, std::string(1000, 'x'));
    }
    return std::string("blobs");
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_EQ(config().LoadConfig({}, a.id, 0)->meta.revision, 0);
  EXPECT_TRUE(ConfigAudit(a.id).empty());
}

TEST_P(ConfigContractTest, ASetIsInSyncOnceTheTerminalReportsItAndRejectedWithItsReason) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(m, "S1");
  const core::Terminal t2 = NewTerminal(m, "S2");
  const core::Terminal t3 = NewTerminal(m, "S3");
  const core::Terminal off = NewTerminal(m, "S4", TerminalState::kSuspended);
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());

  const core::TerminalConfigStatus before = Status(t1.id);
  EXPECT_EQ(before.state, SyncState::kPending);
  EXPECT_EQ(before.tenant_id, a.id);
  EXPECT_EQ(before.desired_revision, 1);
  EXPECT_EQ(before.desired_hash.size(), 64u);
  EXPECT_EQ(before.reported_revision, 0);
  EXPECT_FALSE(before.reason.empty());
  EXPECT_EQ(Status(t2.id).desired_hash, before.desired_hash);  // the same set

  const std::string hash = before.desired_hash;
  const std::string other(64, 'a');
  ASSERT_TRUE(config()
                  .ApplyConfigReports({Report(t1.id, 1, other), Report(t1.id, 1, hash),
                                       Report(t2.id, 1, hash, false, "host unreachable"),
                                       Report(off.id, 1, hash), Report("trm_unknown", 1, hash)})
                  .ok());
  const core::TerminalConfigStatus synced = Status(t1.id);  // its last report counts
  EXPECT_EQ(synced.state, SyncState::kInSync);
  EXPECT_EQ(synced.reported_revision, 1);
  EXPECT_EQ(synced.reported_hash, hash);
  EXPECT_EQ(synced.reason, "");
  EXPECT_GT(synced.report_time, absl::InfinitePast());
  const core::TerminalConfigStatus rejected = Status(t2.id);
  EXPECT_EQ(rejected.state, SyncState::kRejected);
  EXPECT_EQ(rejected.reason, "host unreachable");
  EXPECT_EQ(rejected.reported_revision, 0);
  EXPECT_EQ(Status(off.id).state, SyncState::kPending);  // a suspended terminal's report is dropped

  auto counts = config().CountConfigSync({}, a.id);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->in_sync, 1);
  EXPECT_EQ(counts->pending, 2);
  EXPECT_EQ(counts->rejected, 1);

  auto drift = config().ListConfigDrift({}, a.id, std::nullopt, {0, 10});
  ASSERT_TRUE(drift.ok()) << drift.status();
  std::vector<std::string> ids;
  for (const auto& s : drift->items) ids.push_back(s.terminal_id);
  EXPECT_EQ(ids, (std::vector<std::string>{t2.id, t3.id, off.id}));  // in terminal order
  auto first = config().ListConfigDrift({}, a.id, std::nullopt, {0, 1});
  ASSERT_TRUE(first.ok() && first->more);
  auto next = config().ListConfigDrift({}, a.id, std::nullopt, {first->last, 10});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->items.size(), 2u);
  EXPECT_EQ(next->items[0].terminal_id, t3.id);
  auto only_rejected = config().ListConfigDrift({}, a.id, SyncState::kRejected, {0, 10});
  ASSERT_TRUE(only_rejected.ok());
  ASSERT_EQ(only_rejected->items.size(), 1u);
  EXPECT_EQ(only_rejected->items[0].terminal_id, t2.id);
  auto only_in_sync = config().ListConfigDrift({}, a.id, SyncState::kInSync, {0, 10});
  ASSERT_TRUE(only_in_sync.ok());
  ASSERT_EQ(only_in_sync->items.size(), 1u);
  EXPECT_EQ(only_in_sync->items[0].terminal_id, t1.id);

  // Applying the set it once rejected clears the rejection.
  ASSERT_TRUE(config().ApplyConfigReports({Report(t2.id, 1, hash)}).ok());
  EXPECT_EQ(Status(t2.id).state, SyncState::kInSync);
}

TEST_P(ConfigContractTest, AClaimHoldsTerminalsUntilItIsFinishedOrExpires) {
  const core::Tenant a = NewTenant();
  const core::Tenant b = NewTenant();
  const core::Merchant ma = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(ma, "S1", TerminalState::kActive, {{"zone", "north"}});
  const core::Terminal t2 = NewTerminal(ma, "S2");
  NewTerminal(ma, "S3", TerminalState::kRetired);
  const core::Terminal t4 = NewTerminal(NewMerchant(b.id), "S4");
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());
  ASSERT_TRUE(Commit(b.id, AddSpec(StringSpec("k", "v"))).ok());

  auto claims = config().ClaimUnpublishedConfig(10, absl::Minutes(1));
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), 2u);  // one per tenant, with its newest head
  std::map<std::string, const core::ConfigClaim*> by_tenant;
  for (const core::ConfigClaim& c : *claims) by_tenant[c.head.tenant_id] = &c;
  ASSERT_EQ(by_tenant.count(a.id), 1u);
  const core::ConfigClaim& ca = *by_tenant[a.id];
  EXPECT_EQ(ca.head.meta.revision, 1);
  EXPECT_EQ(ca.head.params.schema.count("k"), 1u);
  ASSERT_EQ(ca.rows.size(), 2u);
  std::map<std::string, core::PendingPublish> rows;
  for (const core::PendingPublish& p : ca.rows) rows[p.target.id] = p;
  ASSERT_EQ(rows.count(t1.id), 1u);
  EXPECT_EQ(rows[t1.id].target.merchant_id, ma.id);
  EXPECT_EQ(rows[t1.id].target.labels.at("zone"), "north");
  EXPECT_EQ(rows[t1.id].target.labels.at("model"), "A920");
  EXPECT_EQ(rows[t1.id].desired_revision, 1);
  EXPECT_EQ(rows[t1.id].desired_hash, Status(t1.id).desired_hash);

  // Held: no one else gets them while the claim lives.
  auto again = config().ClaimUnpublishedConfig(10, absl::Minutes(1));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  // t1 went out; t2 did not, and is released; b's claim stays until it is finished.
  ASSERT_TRUE(
      config().FinishConfigClaims({t1.id, t2.id}, {{t1.id, rows[t1.id].desired_hash}}).ok());
  ASSERT_TRUE(config()
                  .FinishConfigClaims({t1.id, t2.id}, {{t1.id, rows[t1.id].desired_hash}})
                  .ok());  // idempotent
  EXPECT_EQ(Claimable(), (std::set<std::string>{t2.id}));
  ASSERT_TRUE(config().FinishConfigClaims({t4.id}, {}).ok());
  EXPECT_EQ(Claimable(), (std::set<std::string>{t2.id, t4.id}));

  // A limit is kept; an expired claim is anyone's again.
  auto one = config().ClaimUnpublishedConfig(1, absl::ZeroDuration());
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->at(0).rows.size(), 1u);
  EXPECT_EQ(Claimable(), (std::set<std::string>{t2.id, t4.id}));
}

TEST_P(ConfigContractTest, APublishedSetGoesOutAgainWhenTheDesiredOneMovesOnOrTheTopicIsWrong) {
  const core::Tenant a = NewTenant();
  const core::Terminal t = NewTerminal(NewMerchant(a.id), "S1");
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());
  auto claims = config().ClaimUnpublishedConfig(10, absl::Minutes(1));
  ASSERT_TRUE(claims.ok() && claims->size() == 1u);
  const std::string sent = claims->at(0).rows.at(0).desired_hash;
  // The desired set moves on while the broker takes the old one: the terminal stays pending.
  ASSERT_TRUE(Commit(a.id, SetTenantValue("k", "w")).ok());
  ASSERT_TRUE(config().FinishConfigClaims({t.id}, {{t.id, sent}}).ok());
  EXPECT_EQ(Claimable(), (std::set<std::string>{t.id}));

  const std::string desired = Status(t.id).desired_hash;
  ASSERT_NE(desired, sent);
  ASSERT_TRUE(config().ClaimUnpublishedConfig(10, absl::Minutes(1)).ok());
  ASSERT_TRUE(config().FinishConfigClaims({t.id}, {{t.id, desired}}).ok());
  EXPECT_TRUE(Claimable().empty());
  // The terminal reports the old set: its topic holds the wrong one, so it goes out again.
  ASSERT_TRUE(config().ApplyConfigReports({Report(t.id, 1, sent)}).ok());
  EXPECT_EQ(Claimable(), (std::set<std::string>{t.id}));
}

TEST_P(ConfigContractTest, ARelabelledOrNewTerminalIsPendingUntilRefreshed) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(m, "S1");
  const core::Terminal t2 = NewTerminal(m, "S2");
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("k", "v"))).ok());
  ASSERT_TRUE(Commit(a.id, AddGroup("north", "zone=north", "k", "cold")).ok());
  const std::string plain = Status(t1.id).desired_hash;
  ASSERT_TRUE(config().ApplyConfigReports({Report(t1.id, 1, plain), Report(t2.id, 1, plain)}).ok());
  ASSERT_EQ(Status(t1.id).state, SyncState::kInSync);
  auto nothing = config().RefreshDesiredConfig();
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_EQ(*nothing, 0);

  // Relabelled into the group: pending at once, though its stored set is still the old one.
  ASSERT_TRUE(terminals()
                  .UpdateTerminal(
                      {}, t1.id,
                      [](core::Terminal& t) -> absl::StatusOr<std::string> {
                        t.labels["zone"] = "north";
                        return std::string("relabelled");
                      },
                      Audit("UpdateTerminal"))
                  .ok());
  // A change that is not one of labels or merchant leaves t2 in sync.
  ASSERT_TRUE(terminals()
                  .UpdateTerminal(
                      {}, t2.id,
                      [](core::Terminal& t) -> absl::StatusOr<std::string> {
                        t.tid = "T0002";
                        return std::string("tid");
                      },
                      Audit("UpdateTerminal"))
                  .ok());
  const core::Terminal t3 = NewTerminal(m, "S3");
  EXPECT_EQ(Status(t1.id).state, SyncState::kPending);
  EXPECT_EQ(Status(t1.id).desired_hash, plain);
  EXPECT_EQ(Status(t2.id).state, SyncState::kInSync);
  EXPECT_TRUE(absl::IsNotFound(config().GetTerminalConfig({}, t3.id).status()));

  auto refreshed = config().RefreshDesiredConfig();
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(*refreshed, 2);  // t1's set changed; t3 got one
  const core::TerminalConfigStatus moved = Status(t1.id);
  EXPECT_NE(moved.desired_hash, plain);
  EXPECT_EQ(moved.desired_revision, 2);
  EXPECT_EQ(moved.state, SyncState::kPending);
  EXPECT_EQ(Status(t3.id).desired_hash, plain);
  EXPECT_EQ(Status(t3.id).desired_revision, 2);
  EXPECT_EQ(*config().RefreshDesiredConfig(), 0);

  // Relabelled into a set it already runs: recomputed, in sync again, nothing counted.
  ASSERT_TRUE(terminals()
                  .UpdateTerminal(
                      {}, t2.id,
                      [](core::Terminal& t) -> absl::StatusOr<std::string> {
                        t.labels["zone"] = "south";
                        return std::string("relabelled");
                      },
                      Audit("UpdateTerminal"))
                  .ok());
  EXPECT_EQ(Status(t2.id).state, SyncState::kPending);
  EXPECT_EQ(*config().RefreshDesiredConfig(), 0);
  EXPECT_EQ(Status(t2.id).state, SyncState::kInSync);
}

TEST_P(ConfigContractTest, ResealingRewritesOnlyCiphertextOncePerValue) {
  auto old_box = SecretBox::FromKey(std::string(32, '\x01'));
  auto new_box = SecretBox::FromKey(std::string(32, '\x02'));
  ASSERT_TRUE(old_box.ok() && new_box.ok());
  const core::Tenant a = NewTenant();
  const core::Tenant plain = NewTenant();
  ASSERT_TRUE(Commit(plain.id, AddSpec(StringSpec("k", "v"))).ok());
  const std::string sealed = old_box->Seal("s3cret");
  ASSERT_TRUE(Commit(a.id, [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
                ParamSpec spec = StringSpec("host.password", "");
                spec.default_value.reset();
                spec.secret = true;
                p.schema[spec.key] = spec;
                p.tenant.values[spec.key] = sealed;
                p.hash_key_sealed = old_box->Seal(std::string(32, 'h'));
                p.secret_digests[sealed] = "digest-of-s3cret";
                return std::string("secret");
              }).ok());
  ASSERT_TRUE(Commit(a.id, AddSpec(StringSpec("other", "x"))).ok());

  const core::ResealFn reseal = [&](const std::string& value) -> absl::StatusOr<std::string> {
    if (new_box->Open(value).ok()) return value;
    ASSIGN_OR_RETURN(std::string clear, old_box->Open(value));
    return new_box->Seal(clear);
  };
  core::AuditEntry entry = Audit("ResealConfig");
  auto result = config().ResealConfigSecrets(reseal, entry);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->tenants, 1);
  EXPECT_EQ(result->revisions, 2);
  EXPECT_EQ(result->values, 2);
  const std::vector<core::AuditEntry> audit = ConfigAudit(a.id);
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit[0].summary,
            "resealed 2 secret value(s) in 2 revision(s) with the current parameter key");
  EXPECT_TRUE(ConfigAudit(plain.id).size() == 1u);  // its commit only

  for (int64_t revision : {1, 2}) {
    auto head = config().LoadConfig({}, a.id, revision);
    ASSERT_TRUE(head.ok()) << head.status();
    const std::string& now_sealed = head->params.tenant.values.at("host.password");
    EXPECT_NE(now_sealed, sealed);
    EXPECT_EQ(*new_box->Open(now_sealed), "s3cret");
    EXPECT_EQ(*new_box->Open(head->params.hash_key_sealed), std::string(32, 'h'));
    ASSERT_EQ(head->params.secret_digests.count(now_sealed), 1u);  // the digest stays
    EXPECT_EQ(head->params.secret_digests.at(now_sealed), "digest-of-s3cret");
    EXPECT_EQ(head->params.schema.count("other"), revision == 2 ? 1u : 0u);
  }
  auto again = config().ResealConfigSecrets(reseal, entry);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->values, 0);
  EXPECT_EQ(again->tenants, 0);

  // A value no key opens stops the pass with the tenant and revision named.
  const core::ResealFn refuse = [](const std::string&) -> absl::StatusOr<std::string> {
    return absl::InvalidArgumentError("no key opens it");
  };
  auto failed = config().ResealConfigSecrets(refuse, entry);
  EXPECT_TRUE(absl::IsInvalidArgument(failed.status()));
  EXPECT_NE(failed.status().message().find(absl::StrCat("tenant ", a.id, " revision 1")),
            std::string::npos)
      << failed.status();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, ConfigContractTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace posfleet::testing

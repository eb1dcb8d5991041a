// The config registry on the in-memory repositories with simulated time: its rules (roles,
// scopes, previews, the revision guard, sealing and masking of secrets, restore, drift) without
// PostgreSQL. tests/server/contract/config_contract_test.cc pins the repository under it.

#include <gtest/gtest.h>

#include "common/random.h"
#include "server/core/config_registry.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"

namespace posfleet::core {
namespace {

using testing::MemoryStore;
using testing::SimulatedEnv;

class ConfigOnFakes : public ::testing::Test {
 protected:
  ConfigOnFakes()
      : env_(absl::FromCivil(absl::CivilSecond(2026, 12, 1, 9, 0, 0), absl::UTCTimeZone())),
        store_(env_),
        box_(*SecretBox::FromKey(std::string(32, '\x07'))),
        registry_(store_, store_, store_, store_, &box_) {
    a_ = store_.CreateTenant({NewId("ten"), "Acquirer A", {}, {}}, {})->id;
    b_ = store_.CreateTenant({NewId("ten"), "Acquirer B", {}, {}}, {})->id;
    merchant_ = store_.CreateMerchant({NewId("mer"), a_, "shop", "000001", "", {}, {}}, {})->id;
    for (int i = 0; i < 4; ++i) {
      Terminal spec;
      spec.id = NewId("trm");
      spec.merchant_id = merchant_;
      spec.vendor = "PAX";
      spec.model = i < 3 ? "A920" : "A80";
      spec.serial = absl::StrCat("S", i);
      spec.state = TerminalState::kActive;
      terminals_.push_back(store_.CreateTerminal({}, spec, {})->id);
    }
    admin_ = {"tok_admin", "admin", Role::kAdmin, ""};
    operator_ = {"tok_op", "op", Role::kOperator, a_};
    viewer_ = {"tok_view", "view", Role::kViewer, a_};
  }

  static ParamSpec Spec(const std::string& key, const std::string& default_value = "",
                        bool secret = false) {
    ParamSpec spec;
    spec.key = key;
    spec.type = ParamType::kString;
    if (!default_value.empty()) spec.default_value = default_value;
    spec.secret = secret;
    return spec;
  }

  absl::StatusOr<ChangeResult> AddSpecs(std::vector<ParamSpec> specs, ChangeOptions options = {}) {
    SchemaChange change;
    change.upsert = std::move(specs);
    return registry_.UpdateSchema(operator_, a_, change, options);
  }

  absl::StatusOr<ChangeResult> SetOn(LayerKind kind, const std::string& id, const std::string& key,
                                     const std::string& value, ChangeOptions options = {}) {
    ValueChange change;
    change.kind = kind;
    change.id = id;
    change.set[key] = value;
    return registry_.SetValues(operator_, a_, change, options);
  }

  std::vector<AuditEntry> Audit(const std::string& tenant) {
    return store_.ListAudit({{tenant}}, {0, 1000})->items;
  }

  SimulatedEnv env_;
  MemoryStore store_;
  SecretBox box_;
  ConfigRegistry registry_;
  std::string a_, b_, merchant_;
  std::vector<std::string> terminals_;
  Actor admin_, operator_, viewer_;
};

TEST_F(ConfigOnFakes, APreviewCountsWhatTheCommitChangesAndKeepsNothing) {
  ASSERT_TRUE(AddSpecs({Spec("receipt.header", "Thank you")}).ok());
  ASSERT_TRUE(registry_.SetGroup(operator_, a_, "small", "model=A80", 5, {}).ok());
  ChangeOptions preview;
  preview.dry_run = true;
  auto dry = SetOn(LayerKind::kGroup, "small", "receipt.header", "Thanks", preview);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_TRUE(dry->dry_run);
  EXPECT_EQ(dry->meta.revision, 3);
  EXPECT_EQ(dry->terminals_changed, 1);  // the A80 only
  ASSERT_EQ(dry->sample.size(), 1u);
  EXPECT_EQ(dry->sample[0].terminal_id, terminals_[3]);
  EXPECT_EQ(registry_.Layers(viewer_, a_)->meta.revision, 2);
  const size_t audited = Audit(a_).size();

  auto done = SetOn(LayerKind::kGroup, "small", "receipt.header", "Thanks");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->meta.revision, dry->meta.revision);
  EXPECT_EQ(done->terminals_changed, dry->terminals_changed);
  EXPECT_EQ(Audit(a_).size(), audited + 1);
  EXPECT_EQ(Audit(a_)[0].method, "ConfigService.SetValues");
  auto effective = registry_.Effective(viewer_, terminals_[3]);
  ASSERT_TRUE(effective.ok()) << effective.status();
  EXPECT_EQ(effective->params.at("receipt.header").value, "Thanks");
  ASSERT_TRUE(effective->status.has_value());
  EXPECT_EQ(effective->status->desired_hash, effective->hash);
  EXPECT_EQ(effective->status->desired_revision, 3);
  EXPECT_EQ(registry_.Effective(viewer_, terminals_[0])->params.at("receipt.header").value,
            "Thank you");
}

TEST_F(ConfigOnFakes, AChangePreparedAgainstAnOlderRevisionIsRefusedNamingTheNewOne) {
  ASSERT_TRUE(AddSpecs({Spec("receipt.header", "Thank you")}).ok());
  ChangeOptions stale;
  stale.if_revision = 1;
  ASSERT_TRUE(SetOn(LayerKind::kTenant, "", "receipt.header", "A", stale).ok());  // 1 -> 2
  auto refused = SetOn(LayerKind::kTenant, "", "receipt.header", "B", stale);
  EXPECT_TRUE(absl::IsAborted(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("at revision 2, not 1"), std::string::npos);
  EXPECT_EQ(registry_.Layers(viewer_, a_)->params.tenant.values.at("receipt.header"), "A");
}

TEST_F(ConfigOnFakes, ASecretIsSealedInTheStoreMaskedOnTheWayOutAndNeverAudited) {
  ASSERT_TRUE(AddSpecs({Spec("host.password", "", /*secret=*/true)}).ok());
  ASSERT_TRUE(SetOn(LayerKind::kTenant, "", "host.password", "hunter2-secret").ok());
  auto stored = store_.LoadConfig({}, a_, 0);
  ASSERT_TRUE(stored.ok());
  const std::string& sealed = stored->params.tenant.values.at("host.password");
  EXPECT_TRUE(IsSealed(sealed));
  EXPECT_EQ(*box_.Open(sealed), "hunter2-secret");
  EXPECT_EQ(stored->params.secret_digests.count(sealed), 1u);
  EXPECT_EQ(registry_.Layers(viewer_, a_)->params.tenant.values.at("host.password"), kSecretShown);
  EXPECT_EQ(registry_.Effective(viewer_, terminals_[0])->params.at("host.password").value,
            kSecretShown);
  // The same secret set again changes nothing: no terminal gets a new set.
  auto again = SetOn(LayerKind::kTenant, "", "host.password", "hunter2-secret");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->terminals_changed, 0);
  for (const AuditEntry& e : Audit(a_)) {
    EXPECT_EQ(e.summary.find("hunter2"), std::string::npos) << e.summary;
  }
  // Without a box a secret cannot be set at all.
  ConfigRegistry no_box(store_, store_, store_, store_, nullptr);
  ValueChange change;
  change.set["host.password"] = "other";
  EXPECT_TRUE(absl::IsFailedPrecondition(no_box.SetValues(operator_, a_, change, {}).status()));
}

TEST_F(ConfigOnFakes, RolesAndTenantsBoundWhoChangesWhat) {
  SchemaChange change;
  change.upsert = {Spec("k", "v")};
  EXPECT_TRUE(absl::IsPermissionDenied(registry_.UpdateSchema(viewer_, a_, change, {}).status()));
  const Actor other{"tok_b", "op b", Role::kOperator, b_};
  EXPECT_FALSE(registry_.UpdateSchema(other, a_, change, {}).ok());
  EXPECT_TRUE(absl::IsNotFound(registry_.Effective(other, terminals_[0]).status()));
  ASSERT_TRUE(registry_.UpdateSchema(admin_, a_, change, {}).ok());
  EXPECT_EQ(registry_.Layers(operator_, a_)->meta.revision, 1);
  // A refusal is audited too, in the caller's tenant.
  bool refused_audited = false;
  for (const AuditEntry& e : Audit(a_)) refused_audited |= e.result == "PERMISSION_DENIED";
  EXPECT_TRUE(refused_audited);
}

TEST_F(ConfigOnFakes, RestoreMakesANewRevisionEqualToTheOldOne) {
  ASSERT_TRUE(AddSpecs({Spec("receipt.header", "Thank you")}).ok());
  ASSERT_TRUE(SetOn(LayerKind::kTenant, "", "receipt.header", "Changed").ok());
  const std::string changed_hash = registry_.Effective(viewer_, terminals_[0])->hash;
  auto restored = registry_.Restore(operator_, a_, 1, {});
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->meta.revision, 3);
  EXPECT_EQ(restored->meta.restored_from, 1);
  EXPECT_EQ(restored->terminals_changed, 4);
  auto effective = registry_.Effective(viewer_, terminals_[0]);
  EXPECT_EQ(effective->params.at("receipt.header").value, "Thank you");
  EXPECT_NE(effective->hash, changed_hash);
  auto diff = registry_.Diff(viewer_, a_, 3, 1);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_TRUE(diff->edits.empty());
}

TEST_F(ConfigOnFakes, DriftListsWhatIsNotInSyncWithWhy) {
  ASSERT_TRUE(AddSpecs({Spec("receipt.header", "Thank you")}).ok());
  const std::string hash = registry_.Effective(viewer_, terminals_[0])->hash;
  ASSERT_TRUE(store_
                  .ApplyConfigReports({{terminals_[0], 1, hash, true, ""},
                                       {terminals_[1], 1, hash, false, "disk full"}})
                  .ok());
  auto drift = registry_.Drift(viewer_, a_, std::nullopt, 2, "");
  ASSERT_TRUE(drift.ok()) << drift.status();
  EXPECT_EQ(drift->counts.in_sync, 1);
  EXPECT_EQ(drift->counts.rejected, 1);
  EXPECT_EQ(drift->counts.pending, 2);
  ASSERT_EQ(drift->page.items.size(), 2u);
  EXPECT_EQ(drift->page.items[0].terminal_id, terminals_[1]);
  EXPECT_EQ(drift->page.items[0].reason, "disk full");
  EXPECT_FALSE(drift->page.items[1].reason.empty());  // never connected, say
  ASSERT_FALSE(drift->page.next_page_token.empty());
  auto rest = registry_.Drift(viewer_, a_, std::nullopt, 2, drift->page.next_page_token);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->page.items.size(), 1u);
  EXPECT_EQ(rest->page.items[0].terminal_id, terminals_[3]);
  // Relabelled: the set it should have now is not known to be the one it runs.
  ASSERT_TRUE(store_
                  .UpdateTerminal({}, terminals_[0],
                                  [](Terminal& t) -> absl::StatusOr<std::string> {
                                    t.labels["zone"] = "north";
                                    return std::string("relabelled");
                                  },
                                  {})
                  .ok());
  EXPECT_EQ(registry_.Drift(viewer_, a_, SyncState::kInSync, 10, "")->page.items.size(), 0u);
  // A label no group selects on leaves the set as it was: once recomputed, in sync again.
  ASSERT_TRUE(store_.RefreshDesiredConfig().ok());
  EXPECT_EQ(registry_.Drift(viewer_, a_, SyncState::kInSync, 10, "")->page.items.size(), 1u);
}

}  // namespace
}  // namespace posfleet::core

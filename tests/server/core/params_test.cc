#include "server/core/params.h"

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/param_set_hash.h"
#include "common/param_spec_proto.h"
#include "posfleet/v1/config.pb.h"

namespace posfleet::core {
namespace {

ParamSpec Spec(const std::string& key, ParamType type) {
  ParamSpec s;
  s.key = key;
  s.type = type;
  return s;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(GroupPriorityTest, TiesAreRefusedNamingBothGroups) {
  EXPECT_TRUE(CheckGroupPriorities({{"g1", "north", 10}, {"g2", "pilot", 20}}).ok());
  absl::Status tie = CheckGroupPriorities({{"g1", "north", 10}, {"g2", "pilot", 10}});
  EXPECT_FALSE(tie.ok());
  EXPECT_TRUE(Has(std::string(tie.message()), "\"north\" and \"pilot\" both have priority 10"))
      << tie.message();
}

class ResolveTest : public testing::Test {
 protected:
  ResolveTest() {
    ParamSpec limit = Spec("contactless.limit", ParamType::kDecimal);
    limit.default_value = "25";
    schema_[limit.key] = limit;
    ParamSpec name = Spec("receipt.header", ParamType::kString);
    schema_[name.key] = name;
    ParamSpec tip = Spec("tip.prompt", ParamType::kBoolean);
    tip.default_value = "false";
    schema_[tip.key] = tip;
    tenant_ = {LayerKind::kTenant, "ten_1", "", 0, {{"contactless.limit", "30"}}};
    north_ = {LayerKind::kGroup, "grp_n", "north", 10, {{"contactless.limit", "40"}}};
    pilot_ = {LayerKind::kGroup,
              "grp_p",
              "pilot",
              20,
              {{"contactless.limit", "45"}, {"tip.prompt", "true"}}};
    merchant_ = {LayerKind::kMerchant, "mer_1", "", 0, {{"receipt.header", "Cafe Blau"}}};
    terminal_ = {
        LayerKind::kTerminal, "trm_1", "", 0, {{"contactless.limit", "50"}, {"removed.key", "x"}}};
  }

  ParamSchema schema_;
  ParamLayer tenant_, north_, pilot_, merchant_, terminal_;
};

TEST_F(ResolveTest, EveryLayerInItsPlace) {
  // Defaults only.
  EffectiveParams p = Resolve(schema_, {});
  EXPECT_EQ(p["contactless.limit"].value, "25");
  EXPECT_EQ(p["contactless.limit"].source, LayerKind::kDefault);
  EXPECT_EQ(p.count("receipt.header"), 0u);  // no value and no default: absent

  // Tenant over default; a group over the tenant; the higher priority group over the lower,
  // whatever order the layers come in; merchant and terminal on top.
  EXPECT_EQ(Resolve(schema_, {&tenant_})["contactless.limit"].value, "30");
  EXPECT_EQ(Resolve(schema_, {&north_, &tenant_})["contactless.limit"].value, "40");
  EXPECT_EQ(Resolve(schema_, {&pilot_, &north_, &tenant_})["contactless.limit"].value, "45");
  EXPECT_EQ(Resolve(schema_, {&north_, &pilot_, &tenant_})["contactless.limit"].value, "45");
  p = Resolve(schema_, {&terminal_, &merchant_, &pilot_, &north_, &tenant_});
  EXPECT_EQ(p["contactless.limit"].value, "50");
  EXPECT_EQ(p["contactless.limit"].source, LayerKind::kTerminal);
  EXPECT_EQ(p["contactless.limit"].source_id, "trm_1");
  EXPECT_EQ(p["receipt.header"].value, "Cafe Blau");
  EXPECT_EQ(p["receipt.header"].source, LayerKind::kMerchant);
  EXPECT_EQ(p["tip.prompt"].value, "true");
  EXPECT_EQ(p["tip.prompt"].source_id, "grp_p");
  // A key the schema no longer has is not part of the effective set.
  EXPECT_EQ(p.count("removed.key"), 0u);
}

TEST_F(ResolveTest, HashChangesExactlyWhenTheEffectiveSetDoes) {
  TenantParams t;
  t.schema = schema_;
  auto hash = [&t](const EffectiveParams& p) { return ParamsHash(t, p); };
  const std::string h1 = hash(Resolve(schema_, {&tenant_, &merchant_}));
  EXPECT_EQ(h1, hash(Resolve(schema_, {&merchant_, &tenant_})));
  EXPECT_EQ(h1.size(), 64u);
  // A layer that sets the value already in force changes nothing.
  ParamLayer same = {LayerKind::kTerminal, "trm_1", "", 0, {{"contactless.limit", "30"}}};
  EXPECT_EQ(h1, hash(Resolve(schema_, {&tenant_, &merchant_, &same})));
  EXPECT_NE(h1, hash(Resolve(schema_, {&tenant_, &merchant_, &terminal_})));
  // Keys and values cannot be shifted into each other.
  t.schema["ab"] = Spec("ab", ParamType::kString);
  t.schema["a"] = Spec("a", ParamType::kString);
  EffectiveParams a{{"ab", {"c", LayerKind::kTenant, ""}}};
  EffectiveParams b{{"a", {"bc", LayerKind::kTenant, ""}}};
  EXPECT_NE(hash(a), hash(b));
}

// What the terminal validates against is part of its set: a new maximum alone is a new set
// (and gets published); a description is not.
TEST_F(ResolveTest, TheHashCoversTheSpecsTheTerminalChecks) {
  TenantParams t;
  t.schema = schema_;
  const EffectiveParams p = Resolve(schema_, {&tenant_, &merchant_});
  const std::string h1 = ParamsHash(t, p);
  t.schema["contactless.limit"].max = 500;
  const std::string h2 = ParamsHash(t, p);
  EXPECT_NE(h1, h2);
  t.schema["contactless.limit"].description = "the most a tap may pay";
  EXPECT_EQ(ParamsHash(t, p), h2);
}

// A secret enters as its digest, which belongs to its clear value: sealing it again (a new key,
// or the same value set again) gives a new sealed text and the same hash.
TEST_F(ResolveTest, ASecretEntersAsItsDigestNotItsSealedText) {
  TenantParams t;
  t.schema = schema_;
  ParamSpec pw = Spec("host.password", ParamType::kString);
  pw.secret = true;
  t.schema[pw.key] = pw;
  const std::string key(64, '1');
  t.secret_digests["enc1:first"] = SecretDigest(key, "hunter2");
  t.secret_digests["enc1:second"] = SecretDigest(key, "hunter2");
  t.secret_digests["enc1:other"] = SecretDigest(key, "hunter3");
  auto with = [&](const std::string& sealed) {
    ParamLayer layer = {LayerKind::kTenant, "ten_1", "", 0, {{"host.password", sealed}}};
    return ParamsHash(t, Resolve(t.schema, {&layer}));
  };
  EXPECT_EQ(with("enc1:first"), with("enc1:second"));
  EXPECT_NE(with("enc1:first"), with("enc1:other"));
}

// The bound the server checks a change against is never below what the terminal receives, so a
// set the server accepts is one the agent takes (both use kMaxConfigSetBytes).
TEST(SetSizeTest, TheBoundIsAtLeastTheSerializedSet) {
  TenantParams t;
  ParamSpec list = Spec("currencies", ParamType::kList);
  list.allowed = {"EUR", "USD", "CHF", "GBP"};
  list.pattern = "[A-Z]{3}";
  list.description = std::string(400, 'd');
  list.max_items = 10;
  ParamSpec limit = Spec("contactless.limit", ParamType::kDecimal);
  limit.min = 0.5;
  limit.max = 123456.789;
  limit.default_value = "50";
  ParamSpec pw = Spec("host.password", ParamType::kString);
  pw.secret = true;
  pw.max_length = 1024;
  for (const ParamSpec& s : {list, limit, pw}) t.schema[s.key] = s;
  const std::string clear(1000, 'p');
  // A sealed value as SecretBox writes it: the prefix, then base64 of nonce, text and tag.
  const std::string sealed =
      absl::StrCat("enc1:", std::string((12 + clear.size() + 16 + 2) / 3 * 4, 'A'));
  EffectiveParams set{{"currencies", {"[\"EUR\",\"CHF\"]", LayerKind::kTenant, ""}},
                      {"contactless.limit", {"50", LayerKind::kDefault, ""}},
                      {"host.password", {sealed, LayerKind::kTerminal, "trm_1"}}};
  v1::ConfigSet wire;
  wire.set_terminal_id("trm_abcdefghijklmnopqrst");
  wire.set_revision(uint64_t{1} << 40);
  wire.set_hash(std::string(64, 'a'));
  wire.set_hash_key(std::string(64, 'b'));
  wire.set_schema_version(uint64_t{1} << 40);
  wire.mutable_time()->set_seconds(int64_t{1} << 40);
  for (const auto& [key, p] : set) {
    v1::ConfigSet::Param* out = wire.add_params();
    ToProto(t.schema.at(key), out->mutable_spec());
    out->set_value(t.schema.at(key).secret ? clear : p.value);
  }
  EXPECT_GE(SetSizeBound(t, set), wire.SerializeAsString().size());
}

// A change that would give a terminal a set larger than it takes is refused, naming the terminal
// and where the bytes come from.
TEST(SetSizeTest, AnOversizedSetIsRefusedNamingItsLargestLayers) {
  TenantParams t;
  t.tenant = {LayerKind::kTenant, "ten_1", "", 0, {}};
  ParamLayer terminal = {LayerKind::kTerminal, "trm_big", "", 0, {}};
  for (int i = 0; i < 250; ++i) {
    ParamSpec s = Spec(absl::StrCat("text.k", i), ParamType::kString);
    t.schema[s.key] = s;
    (i < 150 ? t.tenant : terminal).values[s.key] = std::string(900, 'x');
  }
  t.terminals["trm_big"] = terminal;
  const std::vector<ParamTarget> targets = {{"trm_small", "mer_1", {}}, {"trm_big", "mer_1", {}}};
  const std::vector<DesiredSet> sets = DesiredSets(t, targets);
  EXPECT_LE(sets[0].size_bound, kMaxConfigSetBytes);
  EXPECT_GT(sets[1].size_bound, kMaxConfigSetBytes);
  const absl::Status s = CheckSetSizes(t, targets, sets);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(Has(std::string(s.message()), "terminal trm_big")) << s;
  EXPECT_TRUE(Has(std::string(s.message()), "tenant 135000 bytes")) << s;
  EXPECT_TRUE(Has(std::string(s.message()), "terminal trm_big 90000 bytes")) << s;
  EXPECT_TRUE(CheckSetSizes(t, {targets[0]}, {sets[0]}).ok());
}

TEST_F(ResolveTest, ExplainListsEveryLayerWinnerFirstWithWhy) {
  std::vector<ExplainStep> steps =
      Explain(schema_, {&tenant_, &north_, &pilot_, &merchant_, &terminal_}, "contactless.limit");
  ASSERT_EQ(steps.size(), 5u);  // terminal, pilot, north, tenant, schema default
  EXPECT_EQ(steps[0].kind, LayerKind::kTerminal);
  EXPECT_TRUE(steps[0].wins);
  EXPECT_EQ(steps[0].value, "50");
  EXPECT_TRUE(Has(steps[0].why,
                  "terminal override: wins over group pilot (priority 20), group "
                  "north (priority 10), tenant default, schema default"))
      << steps[0].why;
  EXPECT_EQ(steps[1].name, "pilot");
  EXPECT_FALSE(steps[1].wins);
  EXPECT_TRUE(Has(steps[1].why, "overridden by terminal override")) << steps[1].why;
  EXPECT_EQ(steps[2].name, "north");
  EXPECT_EQ(steps[3].kind, LayerKind::kTenant);
  EXPECT_EQ(steps[4].kind, LayerKind::kDefault);
  EXPECT_EQ(steps[4].value, "25");

  steps = Explain(schema_, {&tenant_, &merchant_}, "receipt.header");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_TRUE(Has(steps[0].why, "merchant mer_1: the only layer that sets it"));
  steps = Explain(schema_, {}, "tip.prompt");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_TRUE(Has(steps[0].why, "schema default: no layer sets the key"));
  EXPECT_TRUE(Explain(schema_, {&terminal_}, "removed.key").empty());
}

// A small estate: 300 terminals over 3 merchants, regions by index, every tenth a pilot.
class EstateTest : public testing::Test {
 protected:
  EstateTest() {
    ParamSpec limit = Spec("contactless.limit", ParamType::kDecimal);
    limit.default_value = "25";
    p_.schema[limit.key] = limit;
    ParamSpec key = Spec("host.api_key", ParamType::kString);
    key.secret = true;
    p_.schema[key.key] = key;
    p_.tenant = {LayerKind::kTenant, "ten_1", "", 0, {{"contactless.limit", "30"}}};
    p_.groups.push_back({"region=north",
                         *ParseLabelSelector("region=north"),
                         {LayerKind::kGroup, "grp_n", "north", 10, {{"contactless.limit", "40"}}}});
    p_.groups.push_back({"pilot",
                         *ParseLabelSelector("pilot"),
                         {LayerKind::kGroup, "grp_p", "pilot", 20, {{"contactless.limit", "45"}}}});
    p_.merchants["mer_2"] = {LayerKind::kMerchant, "mer_2", "", 0, {{"host.api_key", "k-one"}}};
    p_.terminals["trm_7"] = {LayerKind::kTerminal, "trm_7", "", 0, {{"contactless.limit", "50"}}};
    static const char* const kRegions[] = {"north", "south", "east"};
    for (int i = 0; i < 300; ++i) {
      ParamTarget t{absl::StrCat("trm_", i), absl::StrCat("mer_", i % 3), {}};
      t.labels["region"] = kRegions[i % 3];
      if (i % 10 == 0) t.labels["pilot"] = "yes";
      targets_.push_back(t);
    }
  }
  std::string Limit(const TenantParams& p, int i) {
    return Resolve(p.schema, LayersFor(p, targets_[i]))["contactless.limit"].value;
  }

  TenantParams p_;
  std::vector<ParamTarget> targets_;
};

TEST_F(EstateTest, LayersForPicksTheMatchingGroupsTheMerchantAndTheOverride) {
  EXPECT_EQ(Limit(p_, 1), "30");   // south: the tenant default
  EXPECT_EQ(Limit(p_, 3), "40");   // north
  EXPECT_EQ(Limit(p_, 20), "45");  // south pilot
  EXPECT_EQ(Limit(p_, 30), "45");  // north pilot: the higher priority wins
  EXPECT_EQ(Limit(p_, 7), "50");   // its own override
  EXPECT_EQ(Resolve(p_.schema, LayersFor(p_, targets_[2]))["host.api_key"].value, "k-one");
  EXPECT_EQ(Resolve(p_.schema, LayersFor(p_, targets_[1])).count("host.api_key"), 0u);
}

TEST_F(EstateTest, PreviewCountsExactlyTheTerminalsWhoseHashChanges) {
  const std::vector<std::string> before = DesiredHashes(p_, targets_);
  TenantParams after = p_;
  after.groups[0].layer.values["contactless.limit"] = "42";  // north, not overridden elsewhere
  const ParamPreview preview = PreviewChange(p_, after, targets_, 5);
  const std::vector<std::string> hashes = DesiredHashes(after, targets_);
  size_t changed = 0;
  for (size_t i = 0; i < targets_.size(); ++i) changed += before[i] != hashes[i];
  // North terminals (i % 3 == 0) that are neither pilots nor trm_7 (which is south anyway).
  size_t expected = 0;
  for (int i = 0; i < 300; ++i) expected += i % 3 == 0 && i % 10 != 0;
  EXPECT_EQ(changed, expected);
  EXPECT_EQ(preview.changed, changed);
  ASSERT_EQ(preview.sample.size(), 5u);
  EXPECT_EQ(preview.sample[0].terminal_id, "trm_3");
  ASSERT_EQ(preview.sample[0].diffs.size(), 1u);
  EXPECT_EQ(preview.sample[0].diffs[0].key, "contactless.limit");
  EXPECT_EQ(preview.sample[0].diffs[0].before, "40");
  EXPECT_EQ(preview.sample[0].diffs[0].after, "42");

  // A change that sets what is already in force changes no terminal.
  TenantParams same = p_;
  same.merchants["mer_1"] = {LayerKind::kMerchant, "mer_1", "", 0, {{"contactless.limit", "30"}}};
  // mer_1 terminals: south ones already 30 by the tenant default; north and pilots differ.
  size_t moved = 0;
  for (int i = 0; i < 300; ++i) moved += i % 3 == 1 && i % 10 == 0;  // south pilots: 45 -> 30
  EXPECT_EQ(PreviewChange(p_, same, targets_, 0).changed, moved);
}

// A recompute's shortcut (no set is built) gives exactly what the set it stands for would:
// defaults, every layer's precedence, a layer's key that left the schema, a key with neither
// default nor value, a secret by its digest.
TEST_F(EstateTest, ADesiredSetIsTheHashAndBoundOfTheResolvedSet) {
  ParamSpec note = Spec("receipt.note", ParamType::kString);  // no default
  p_.schema[note.key] = note;
  p_.merchants["mer_1"] = {LayerKind::kMerchant, "mer_1", "", 0, {{"gone.key", "x"}}};
  p_.merchants["mer_2"].values["host.api_key"] = "sealed-1";
  p_.secret_digests["sealed-1"] = "digest-one";
  p_.terminals["trm_9"] = {LayerKind::kTerminal, "trm_9", "", 0, {{"receipt.note", "hello"}}};
  const ParamHasher hasher(p_);
  std::set<std::string> distinct;
  for (const ParamTarget& t : targets_) {
    const EffectiveParams set = Resolve(p_.schema, LayersFor(p_, t));
    const DesiredSet desired = hasher.Desired(t);
    EXPECT_EQ(desired.hash, hasher.Hash(set)) << t.id;
    EXPECT_EQ(desired.size_bound, SetSizeBound(p_, set)) << t.id;
    distinct.insert(desired.hash);
  }
  EXPECT_GE(distinct.size(), 6u);  // the estate's sets differ, so the comparison means something
  // The secret enters as its digest: the same secret sealed again hashes the same.
  TenantParams resealed = p_;
  resealed.merchants["mer_2"].values["host.api_key"] = "sealed-2";
  resealed.secret_digests["sealed-2"] = "digest-one";
  EXPECT_EQ(ParamHasher(resealed).Desired(targets_[2]).hash, hasher.Desired(targets_[2]).hash);
}

TEST_F(EstateTest, SecretsShowOnlyThatTheyChange) {
  TenantParams after = p_;
  after.merchants["mer_2"].values["host.api_key"] = "k-two";
  const ParamPreview preview = PreviewChange(p_, after, targets_, 3);
  EXPECT_EQ(preview.changed, 100u);  // every mer_2 terminal
  ASSERT_FALSE(preview.sample.empty());
  for (const TargetChange& c : preview.sample) {
    ASSERT_EQ(c.diffs.size(), 1u);
    EXPECT_EQ(c.diffs[0].before, std::string(kSecretShown));
    EXPECT_EQ(c.diffs[0].after, std::string(kSecretChanged));  // that it changes, never to what
  }
  std::vector<ExplainStep> steps = Explain(p_.schema, LayersFor(p_, targets_[2]), "host.api_key");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].value, std::string(kSecretShown));
  for (const ExplainStep& s : steps) EXPECT_EQ(s.why.find("k-one"), std::string::npos);
}

// What a revision changed, part by part; a secret sealed again under the same digest is no edit,
// and a changed one never shows its value.
TEST_F(EstateTest, ADiffListsEveryEditAndNoSecret) {
  p_.merchants["mer_2"].values["host.api_key"] = "sealed-1";
  p_.secret_digests["sealed-1"] = "digest-one";
  TenantParams after = p_;
  after.schema["contactless.limit"].default_value = "20";
  after.groups[0].layer.priority = 15;
  after.tenant.values["contactless.limit"] = "35";
  after.merchants["mer_2"].values["host.api_key"] = "sealed-2";  // resealed, same secret
  after.secret_digests["sealed-2"] = "digest-one";
  after.terminals.erase("trm_7");
  after.terminals["trm_9"] = {LayerKind::kTerminal, "trm_9", "", 0, {{"contactless.limit", "9"}}};
  const std::vector<ConfigEdit> edits = DiffParams(p_, after);
  ASSERT_EQ(edits.size(), 5u);
  EXPECT_EQ(edits[0].part, ConfigEdit::Part::kSchema);
  EXPECT_EQ(edits[0].key, "contactless.limit");
  EXPECT_EQ(*edits[0].before, "decimal, default \"25\"");
  EXPECT_EQ(*edits[0].after, "decimal, default \"20\"");
  EXPECT_EQ(edits[1].part, ConfigEdit::Part::kGroup);
  EXPECT_EQ(edits[1].id, "grp_n");
  EXPECT_EQ(*edits[1].before, "priority 10, selector region=north");
  EXPECT_EQ(*edits[1].after, "priority 15, selector region=north");
  EXPECT_EQ(edits[2].kind, LayerKind::kTenant);
  EXPECT_EQ(*edits[2].before, "30");
  EXPECT_EQ(*edits[2].after, "35");
  EXPECT_EQ(edits[3].id, "trm_7");
  EXPECT_FALSE(edits[3].after.has_value());
  EXPECT_EQ(edits[4].id, "trm_9");
  EXPECT_FALSE(edits[4].before.has_value());

  after.merchants["mer_2"].values["host.api_key"] = "sealed-3";
  after.secret_digests["sealed-3"] = "digest-three";
  const std::vector<ConfigEdit> changed = DiffParams(p_, after);
  ASSERT_EQ(changed.size(), 6u);
  EXPECT_EQ(changed[3].kind, LayerKind::kMerchant);
  EXPECT_EQ(*changed[3].before, std::string(kSecretShown));
  EXPECT_EQ(*changed[3].after, std::string(kSecretChanged));
  EXPECT_TRUE(DiffParams(after, after).empty());
}

TEST(SpecChangesTest, SaysWhatASpecGainsAndLoses) {
  ParamSpec before = Spec("host.timeout", ParamType::kDuration);
  before.min = 5;
  before.max = 30;
  before.default_value = "20s";
  ParamSpec after = before;
  EXPECT_TRUE(SpecChanges(before, after).empty());
  after.max = 60;
  after.default_value.reset();
  after.min.reset();
  after.description = "answer time";
  const std::vector<std::string> what = SpecChanges(before, after);
  ASSERT_EQ(what.size(), 4u);
  EXPECT_EQ(what[0], "min 5 removed");
  EXPECT_EQ(what[1], "max 30 -> 60");
  EXPECT_EQ(what[2], "default \"20s\" removed");
  EXPECT_EQ(what[3], "description changed");
}

}  // namespace
}  // namespace posfleet::core

// ConfigService through the real gRPC server on a real PostgreSQL: layer precedence and group
// priorities, validation, schema compatibility, previews that count what commits change,
// revisions and restore, secrets that never come back out, and tenant isolation.

#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/config.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

v1::ParamSpec Spec(const std::string& key, v1::ParamType type) {
  v1::ParamSpec s;
  s.set_key(key);
  s.set_type(type);
  return s;
}

class ConfigApiTest : public ::testing::Test {
 protected:
  ConfigApiTest() {
    tenant_ = h_.CreateTenant("acme").id();
    m1_ = h_.CreateMerchant(tenant_, "M1").id();
    m2_ = h_.CreateMerchant(tenant_, "M2").id();
  }

  grpc::Status Schema(const std::vector<v1::ParamSpec>& specs,
                      const std::vector<std::string>& remove = {},
                      v1::ConfigChangeResult* out = nullptr) {
    v1::UpdateSchemaRequest req;
    req.set_tenant_id(tenant_);
    for (const auto& s : specs) *req.add_upsert() = s;
    for (const auto& k : remove) req.add_remove(k);
    v1::ConfigChangeResult r;
    return h_.config->UpdateSchema(ApiHarness::As(h_.admin).get(), req, out ? out : &r);
  }

  grpc::Status Set(v1::LayerKind kind, const std::string& id,
                   const std::map<std::string, std::string>& values,
                   const std::vector<std::string>& unset = {}, bool dry_run = false,
                   v1::ConfigChangeResult* out = nullptr) {
    v1::SetValuesRequest req;
    req.set_tenant_id(tenant_);
    req.set_kind(kind);
    req.set_id(id);
    req.mutable_set()->insert(values.begin(), values.end());
    for (const auto& k : unset) req.add_unset(k);
    req.set_dry_run(dry_run);
    req.set_sample(10);
    v1::ConfigChangeResult r;
    return h_.config->SetValues(ApiHarness::As(h_.admin).get(), req, out ? out : &r);
  }

  grpc::Status SetGroup(const std::string& name, const std::string& selector, int priority) {
    v1::SetGroupRequest req;
    req.set_tenant_id(tenant_);
    req.mutable_group()->set_name(name);
    req.mutable_group()->set_selector(selector);
    req.mutable_group()->set_priority(priority);
    v1::ConfigChangeResult r;
    return h_.config->SetGroup(ApiHarness::As(h_.admin).get(), req, &r);
  }

  // key -> (value, source kind)
  std::map<std::string, std::pair<std::string, v1::LayerKind>> Effective(const std::string& t) {
    v1::GetEffectiveConfigRequest req;
    req.set_terminal_id(t);
    v1::GetEffectiveConfigResponse resp;
    grpc::Status s = h_.config->GetEffectiveConfig(ApiHarness::As(h_.admin).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::pair<std::string, v1::LayerKind>> out;
    for (const auto& p : resp.params()) out[p.key()] = {p.value(), p.source()};
    return out;
  }

  std::string Terminal(const std::string& merchant, const std::string& serial,
                       std::map<std::string, std::string> labels = {}) {
    return h_.CreateTerminal(h_.admin, merchant, serial, std::move(labels)).id();
  }

  int64_t Revisions() {
    v1::ListRevisionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_page_size(1000);
    v1::ListRevisionsResponse resp;
    EXPECT_TRUE(h_.config->ListRevisions(ApiHarness::As(h_.admin).get(), req, &resp).ok());
    return resp.revisions_size();
  }

  // Every terminal of the tenant with its sync state, and the counts.
  v1::ListDriftResponse Drift() {
    v1::ListDriftRequest req;
    req.set_tenant_id(tenant_);
    req.set_state(v1::CONFIG_SYNC_STATE_UNSPECIFIED);
    req.set_page_size(100);
    v1::ListDriftResponse resp;
    grpc::Status s = h_.config->ListDrift(ApiHarness::As(h_.admin).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  ApiHarness h_;
  std::string tenant_, m1_, m2_;
};

TEST_F(ConfigApiTest, EveryLayerAndGroupPriorityTakesItsPlace) {
  v1::ParamSpec limit = Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL);
  limit.set_default_value("10");
  ASSERT_TRUE(Schema({limit}).ok());
  ASSERT_TRUE(SetGroup("north", "region=north", 10).ok());
  ASSERT_TRUE(SetGroup("pilot", "pilot", 20).ok());
  const std::string t1 = Terminal(m1_, "T1", {{"region", "north"}, {"pilot", "yes"}});
  const std::string t2 = Terminal(m1_, "T2", {{"region", "north"}, {"pilot", "yes"}});
  const std::string t3 = Terminal(m2_, "T3", {{"region", "north"}, {"pilot", "yes"}});
  const std::string t4 = Terminal(m2_, "T4", {{"region", "north"}});
  const std::string t5 = Terminal(m2_, "T5", {{"region", "south"}});
  const std::string key = "contactless.limit";
  EXPECT_EQ(Effective(t5)[key], std::make_pair(std::string("10"), v1::LAYER_KIND_DEFAULT));
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{key, "20.00"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_GROUP, "north", {{key, "30"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_GROUP, "pilot", {{key, "40"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_MERCHANT, m1_, {{key, "50"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_TERMINAL, t1, {{key, "60"}}).ok());

  EXPECT_EQ(Effective(t1)[key], std::make_pair(std::string("60"), v1::LAYER_KIND_TERMINAL));
  EXPECT_EQ(Effective(t2)[key], std::make_pair(std::string("50"), v1::LAYER_KIND_MERCHANT));
  EXPECT_EQ(Effective(t3)[key], std::make_pair(std::string("40"), v1::LAYER_KIND_GROUP));
  EXPECT_EQ(Effective(t4)[key], std::make_pair(std::string("30"), v1::LAYER_KIND_GROUP));
  // "20.00" is stored canonically.
  EXPECT_EQ(Effective(t5)[key], std::make_pair(std::string("20"), v1::LAYER_KIND_TENANT));

  // Swapping the groups' priorities swaps the winner for a terminal in both.
  ASSERT_TRUE(SetGroup("pilot", "pilot", 5).ok());
  EXPECT_EQ(Effective(t3)[key], std::make_pair(std::string("30"), v1::LAYER_KIND_GROUP));

  v1::ExplainRequest ex;
  ex.set_terminal_id(t1);
  ex.set_key(key);
  v1::ExplainResponse why;
  ASSERT_TRUE(h_.config->Explain(ApiHarness::As(h_.admin).get(), ex, &why).ok());
  ASSERT_EQ(why.params_size(), 1);
  const auto& steps = why.params(0).steps();
  ASSERT_EQ(steps.size(), 6);  // terminal, merchant, north (now 10 > 5), pilot, tenant, default
  EXPECT_TRUE(steps[0].wins());
  EXPECT_EQ(steps[0].kind(), v1::LAYER_KIND_TERMINAL);
  EXPECT_EQ(steps[1].kind(), v1::LAYER_KIND_MERCHANT);
  EXPECT_EQ(steps[2].id(), "north");
  EXPECT_EQ(steps[3].id(), "pilot");
  EXPECT_EQ(steps[4].kind(), v1::LAYER_KIND_TENANT);
  EXPECT_EQ(steps[5].kind(), v1::LAYER_KIND_DEFAULT);
  EXPECT_TRUE(absl::StrContains(steps[3].why(), "overridden by terminal override"))
      << steps[3].why();

  // Without the tenant value, T5 falls back to the default.
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {}, {key}).ok());
  EXPECT_EQ(Effective(t5)[key], std::make_pair(std::string("10"), v1::LAYER_KIND_DEFAULT));
}

// A group can select on the terminal's model (a field, not a label), as in the README.
TEST_F(ConfigApiTest, AGroupCanSelectTheModel) {
  ASSERT_TRUE(Schema({Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL)}).ok());
  ASSERT_TRUE(SetGroup("a920", "model in (A920,A80)", 10).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_GROUP, "a920", {{"contactless.limit", "40"}}).ok());
  const std::string plain = Terminal(m1_, "T1");                             // a PAX A920
  const std::string relabelled = Terminal(m1_, "T2", {{"model", "V400m"}});  // a label wins
  EXPECT_EQ(Effective(plain).at("contactless.limit").first, "40");
  EXPECT_EQ(Effective(plain).at("contactless.limit").second, v1::LAYER_KIND_GROUP);
  EXPECT_EQ(Effective(relabelled).count("contactless.limit"), 0u);
}

TEST_F(ConfigApiTest, AGroupPriorityTieIsRefusedWhenWritten) {
  ASSERT_TRUE(SetGroup("north", "region=north", 10).ok());
  grpc::Status tie = SetGroup("pilot", "pilot", 10);
  EXPECT_EQ(tie.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(tie.error_message(), "north")) << tie.error_message();
  EXPECT_EQ(SetGroup("Bad Name", "pilot", 11).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(SetGroup("pilot", "region in (", 11).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ConfigApiTest, EveryValueIsCheckedAgainstItsSpec) {
  v1::ParamSpec str = Spec("receipt.header", v1::PARAM_TYPE_STRING);
  str.set_max_length(10);
  v1::ParamSpec host = Spec("host.name", v1::PARAM_TYPE_STRING);
  host.set_pattern("[a-z0-9.-]+");
  v1::ParamSpec integer = Spec("idle.seconds", v1::PARAM_TYPE_INTEGER);
  integer.set_min(5);
  integer.set_max(600);
  v1::ParamSpec dec = Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL);
  dec.set_max(500);
  v1::ParamSpec boolean = Spec("tip.enabled", v1::PARAM_TYPE_BOOLEAN);
  v1::ParamSpec en = Spec("receipt.language", v1::PARAM_TYPE_ENUM);
  en.add_allowed("en");
  en.add_allowed("fr");
  v1::ParamSpec dur = Spec("batch.interval", v1::PARAM_TYPE_DURATION);
  dur.set_max(3600);
  v1::ParamSpec list = Spec("currencies", v1::PARAM_TYPE_LIST);
  list.set_max_items(2);
  list.set_pattern("[A-Z]{3}");
  ASSERT_TRUE(Schema({str, host, integer, dec, boolean, en, dur, list}).ok());

  const std::map<std::string, std::string> bad = {
      {"receipt.header", "far too long a header"},
      {"host.name", "Not A Host!"},
      {"idle.seconds", "4"},
      {"contactless.limit", "500.01"},
      {"tip.enabled", "perhaps"},
      {"receipt.language", "de"},
      {"batch.interval", "2h"},
      {"currencies", "[\"EUR\",\"USD\",\"GBP\"]"},
  };
  for (const auto& [key, value] : bad) {
    grpc::Status s = Set(v1::LAYER_KIND_TENANT, "", {{key, value}});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << key;
    EXPECT_TRUE(absl::StartsWith(s.error_message(), key)) << s.error_message();
  }
  v1::ConfigChangeResult good;
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "",
                  {{"receipt.header", "Acme"},
                   {"idle.seconds", "060"},
                   {"tip.enabled", "true"},
                   {"batch.interval", "90s"},
                   {"currencies", "[\"EUR\", \"USD\"]"}},
                  {}, false, &good)
                  .ok());
  const std::string t = Terminal(m1_, "T1");
  auto eff = Effective(t);
  EXPECT_EQ(eff["idle.seconds"].first, "60");
  EXPECT_EQ(eff["tip.enabled"].first, "true");
  EXPECT_EQ(eff["batch.interval"].first, "1m30s");
  EXPECT_EQ(eff["currencies"].first, "[\"EUR\",\"USD\"]");

  // A key outside the schema, and a card number in free text (never echoed).
  EXPECT_EQ(Set(v1::LAYER_KIND_TENANT, "", {{"no.such", "1"}}).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::Status pan = Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "4111111111111111"}});
  EXPECT_EQ(pan.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(absl::StrContains(pan.error_message(), "4111111111111111"));
  // A spec that does not fit its type.
  v1::ParamSpec broken = Spec("x.y", v1::PARAM_TYPE_BOOLEAN);
  broken.set_max_length(3);
  EXPECT_EQ(Schema({broken}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ConfigApiTest, ASchemaChangeThatBreaksStoredValuesIsRefusedNamingThem) {
  ASSERT_TRUE(Schema({Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL)}).ok());
  const std::string t = Terminal(m1_, "T1");
  ASSERT_TRUE(Set(v1::LAYER_KIND_TERMINAL, t, {{"contactless.limit", "60"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_MERCHANT, m1_, {{"contactless.limit", "70"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"contactless.limit", "40"}}).ok());
  v1::ParamSpec tighter = Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL);
  tighter.set_max(50);
  const int64_t before = Revisions();
  grpc::Status s = Schema({tighter});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "2 stored values")) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "terminal " + t)) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "merchant " + m1_)) << s.error_message();
  EXPECT_EQ(Revisions(), before);
  grpc::Status removed = Schema({}, {"contactless.limit"});
  EXPECT_EQ(removed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(removed.error_message(), "removed from the schema"));
  // Integer -> decimal keeps every value (they only change type).
  ASSERT_TRUE(Schema({Spec("contactless.limit", v1::PARAM_TYPE_INTEGER)}).ok());
}

TEST_F(ConfigApiTest, APreviewCountsExactlyWhatTheCommitChanges) {
  ASSERT_TRUE(Schema({Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL)}).ok());
  ASSERT_TRUE(SetGroup("north", "region=north", 10).ok());
  std::vector<std::string> north;
  for (int i = 0; i < 7; ++i) {
    north.push_back(Terminal(i % 2 ? m1_ : m2_, "N" + std::to_string(i), {{"region", "north"}}));
  }
  for (int i = 0; i < 4; ++i) Terminal(m1_, "S" + std::to_string(i), {{"region", "south"}});
  // One north terminal already has its own value: the group change does not touch it.
  ASSERT_TRUE(Set(v1::LAYER_KIND_TERMINAL, north[0], {{"contactless.limit", "99"}}).ok());

  const int64_t revisions = Revisions();
  const int audits = h_.CountAudit(tenant_, "ConfigService.SetValues", "OK");
  v1::ConfigChangeResult preview, commit;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_GROUP, "north", {{"contactless.limit", "45"}}, {}, true, &preview).ok());
  EXPECT_TRUE(preview.dry_run());
  EXPECT_EQ(preview.terminals_changed(), 6u);
  EXPECT_EQ(preview.sample_size(), 6);
  EXPECT_EQ(preview.sample(0).diffs(0).after(), "45");
  EXPECT_FALSE(preview.sample(0).diffs(0).has_before());
  EXPECT_EQ(Revisions(), revisions) << "a dry run committed a revision";
  EXPECT_EQ(h_.CountAudit(tenant_, "ConfigService.SetValues", "OK"), audits);

  ASSERT_TRUE(
      Set(v1::LAYER_KIND_GROUP, "north", {{"contactless.limit", "45"}}, {}, false, &commit).ok());
  EXPECT_FALSE(commit.dry_run());
  EXPECT_EQ(commit.terminals_changed(), preview.terminals_changed());
  EXPECT_EQ(commit.revision(), preview.revision());
  EXPECT_EQ(Revisions(), revisions + 1);
  EXPECT_EQ(h_.CountAudit(tenant_, "ConfigService.SetValues", "OK"), audits + 1);
  // The desired state the commit wrote agrees: 6 terminals at the new revision.
  pqxx::connection conn(h_.db_url);
  EXPECT_EQ(pqxx::nontransaction(conn)
                .exec_params1("SELECT count(*) FROM terminal_config WHERE desired_revision = $1",
                              static_cast<int64_t>(commit.revision()))[0]
                .as<int64_t>(),
            6);
  // The same change again changes nothing.
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_GROUP, "north", {{"contactless.limit", "45"}}, {}, false, &commit).ok());
  EXPECT_EQ(commit.terminals_changed(), 0u);
}

TEST_F(ConfigApiTest, RestoreMakesAnEarlierRevisionCurrentAsANewOne) {
  ASSERT_TRUE(Schema({Spec("receipt.header", v1::PARAM_TYPE_STRING)}).ok());  // revision 1
  const std::string t = Terminal(m1_, "T1");
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "First"}}).ok());   // 2
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "Second"}}).ok());  // 3
  EXPECT_EQ(Effective(t)["receipt.header"].first, "Second");
  v1::RestoreRevisionRequest req;
  req.set_tenant_id(tenant_);
  req.set_revision(2);
  req.set_message("back to the first header");
  v1::ConfigChangeResult r;
  ASSERT_TRUE(h_.config->RestoreRevision(ApiHarness::As(h_.admin).get(), req, &r).ok());
  EXPECT_EQ(r.revision(), 4u);
  EXPECT_EQ(r.terminals_changed(), 1u);
  EXPECT_EQ(Effective(t)["receipt.header"].first, "First");
  v1::ListRevisionsRequest list;
  list.set_tenant_id(tenant_);
  v1::ListRevisionsResponse revs;
  ASSERT_TRUE(h_.config->ListRevisions(ApiHarness::As(h_.admin).get(), list, &revs).ok());
  ASSERT_EQ(revs.revisions_size(), 4);
  EXPECT_EQ(revs.revisions(0).revision(), 4u);
  EXPECT_EQ(revs.revisions(0).restored_from(), 2u);
  EXPECT_EQ(revs.revisions(0).message(), "back to the first header");
  req.set_revision(99);
  EXPECT_EQ(h_.config->RestoreRevision(ApiHarness::As(h_.admin).get(), req, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A change prepared against one revision is refused once another change landed in between,
// naming the revision it is at: an admin who previewed on 3 cannot overwrite what another did.
TEST_F(ConfigApiTest, AChangePreparedOnAnOlderRevisionIsRefusedNotMerged) {
  ASSERT_TRUE(Schema({Spec("receipt.header", v1::PARAM_TYPE_STRING)}).ok());
  v1::ConfigChangeResult preview;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "Mine"}}, {}, true, &preview).ok());
  const uint64_t base = preview.revision() - 1;
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "Theirs"}}).ok());  // in between

  auto set_if = [&](uint64_t revision, const std::string& value) {
    v1::SetValuesRequest req;
    req.set_tenant_id(tenant_);
    req.set_kind(v1::LAYER_KIND_TENANT);
    (*req.mutable_set())["receipt.header"] = value;
    req.set_if_revision(revision);
    v1::ConfigChangeResult r;
    return h_.config->SetValues(ApiHarness::As(h_.admin).get(), req, &r);
  };
  const grpc::Status stale = set_if(base, "Mine");
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED) << stale.error_message();
  EXPECT_NE(stale.error_message().find(absl::StrCat("at revision ", base + 1, ", not ", base)),
            std::string::npos)
      << stale.error_message();
  const std::string t = Terminal(m1_, "T1");
  EXPECT_EQ(Effective(t)["receipt.header"].first, "Theirs");
  EXPECT_TRUE(set_if(base + 1, "Mine").ok());
  EXPECT_EQ(Effective(t)["receipt.header"].first, "Mine");

  // Every kind of change takes the condition.
  v1::UpdateSchemaRequest schema;
  schema.set_tenant_id(tenant_);
  *schema.add_upsert() = Spec("tip.enabled", v1::PARAM_TYPE_BOOLEAN);
  schema.set_if_revision(base);
  v1::ConfigChangeResult r;
  EXPECT_EQ(h_.config->UpdateSchema(ApiHarness::As(h_.admin).get(), schema, &r).error_code(),
            grpc::StatusCode::ABORTED);
  v1::RestoreRevisionRequest restore;
  restore.set_tenant_id(tenant_);
  restore.set_revision(1);
  restore.set_if_revision(base);
  EXPECT_EQ(h_.config->RestoreRevision(ApiHarness::As(h_.admin).get(), restore, &r).error_code(),
            grpc::StatusCode::ABORTED);
}

// Items added to a list by many admins at once all land: each edit applies to the value as it is
// when it commits, not as the client last saw it.
TEST_F(ConfigApiTest, ListEditsMadeAtOnceMerge) {
  v1::ParamSpec currencies = Spec("currencies", v1::PARAM_TYPE_LIST);
  currencies.set_default_value("[\"EUR\"]");
  ASSERT_TRUE(Schema({currencies, Spec("receipt.header", v1::PARAM_TYPE_STRING)}).ok());
  const std::vector<std::string> added = {"USD", "CHF", "GBP", "SEK", "NOK", "DKK", "PLN", "CZK"};
  std::vector<std::thread> admins;
  std::vector<grpc::Status> results(added.size());
  for (size_t i = 0; i < added.size(); ++i) {
    admins.emplace_back([&, i] {
      v1::SetValuesRequest req;
      req.set_tenant_id(tenant_);
      req.set_kind(v1::LAYER_KIND_TENANT);
      (*req.mutable_add())["currencies"] = "[\"" + added[i] + "\"]";
      v1::ConfigChangeResult r;
      results[i] = h_.config->SetValues(ApiHarness::As(h_.admin).get(), req, &r);
    });
  }
  for (std::thread& t : admins) t.join();
  for (const grpc::Status& s : results) EXPECT_TRUE(s.ok()) << s.error_message();
  const std::string t = Terminal(m1_, "T1");
  const std::string value = Effective(t)["currencies"].first;
  for (const char* c : {"EUR", "USD", "CHF", "GBP", "SEK", "NOK", "DKK", "PLN", "CZK"}) {
    EXPECT_NE(value.find(absl::StrCat("\"", c, "\"")), std::string::npos) << c << " in " << value;
  }
  // Removing takes out just that item; adding what is there already changes nothing.
  v1::SetValuesRequest req;
  req.set_tenant_id(tenant_);
  req.set_kind(v1::LAYER_KIND_TENANT);
  (*req.mutable_remove())["currencies"] = "[\"USD\"]";
  v1::ConfigChangeResult r;
  ASSERT_TRUE(h_.config->SetValues(ApiHarness::As(h_.admin).get(), req, &r).ok());
  EXPECT_EQ(Effective(t)["currencies"].first.find("USD"), std::string::npos);
  // Only a list has items.
  v1::SetValuesRequest wrong;
  wrong.set_tenant_id(tenant_);
  wrong.set_kind(v1::LAYER_KIND_TENANT);
  (*wrong.mutable_add())["receipt.header"] = "[\"x\"]";
  const grpc::Status refused = h_.config->SetValues(ApiHarness::As(h_.admin).get(), wrong, &r);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("only on a list"), std::string::npos)
      << refused.error_message();
}

// Keys each within their limits can still add up to a set no terminal takes: the change that
// would make one is refused when it is written, naming the terminal and the layers.
TEST_F(ConfigApiTest, AChangeThatWouldMakeASetTooLargeIsRefused) {
  std::vector<v1::ParamSpec> specs;
  for (int i = 0; i < 250; ++i)
    specs.push_back(Spec(absl::StrCat("text.k", i), v1::PARAM_TYPE_STRING));
  ASSERT_TRUE(Schema(specs).ok());
  const std::string t = Terminal(m1_, "T1");
  std::map<std::string, std::string> tenant_values, terminal_values;
  for (int i = 0; i < 250; ++i) {
    (i < 150 ? tenant_values : terminal_values)[absl::StrCat("text.k", i)] = std::string(900, 'x');
  }
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", tenant_values).ok());
  const int64_t revisions = Revisions();
  const grpc::Status refused = Set(v1::LAYER_KIND_TERMINAL, t, terminal_values);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_NE(refused.error_message().find("terminal " + t), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("tenant 135000 bytes"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(Revisions(), revisions);  // nothing was written
}

// `config get` is in sync only if the terminal runs the set it should have now: after a relabel
// the stored desired set waits for the refresh pass, and until then the answer is "recompute
// due", not the in-sync of the set it had.
TEST_F(ConfigApiTest, ARelabelledTerminalIsNotInSyncUntilItRunsItsNewSet) {
  ASSERT_TRUE(Schema({Spec("contactless.limit", v1::PARAM_TYPE_DECIMAL)}).ok());
  ASSERT_TRUE(SetGroup("north", "region=north", 10).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_GROUP, "north", {{"contactless.limit", "40"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"contactless.limit", "30"}}).ok());
  const std::string t = Terminal(m1_, "T1", {{"region", "south"}});
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  h_.MarkActive({t});
  {
    // Connected, so that "recompute due" is the most basic reason it is pending.
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec_params(
        "INSERT INTO terminal_status (terminal_id, online, session, last_seen, change_time) "
        "VALUES ($1, true, 1, now(), now())",
        t);
  }
  auto get = [&] {
    v1::GetEffectiveConfigRequest req;
    req.set_terminal_id(t);
    v1::GetEffectiveConfigResponse resp;
    EXPECT_TRUE(h_.config->GetEffectiveConfig(ApiHarness::As(h_.admin).get(), req, &resp).ok());
    return resp;
  };
  const v1::GetEffectiveConfigResponse before = get();
  core::ConfigReportIn report;
  report.terminal_id = t;
  report.revision = static_cast<int64_t>(before.status().desired_revision());
  report.hash = before.status().desired_hash();
  report.applied = true;
  ASSERT_TRUE(h_.store->ApplyConfigReports({report}).ok());
  ASSERT_EQ(get().status().state(), v1::CONFIG_SYNC_STATE_IN_SYNC);

  v1::UpdateTerminalRequest relabel;
  relabel.set_id(t);
  (*relabel.mutable_set_labels())["region"] = "north";
  v1::Terminal updated;
  ASSERT_TRUE(h_.terminals->UpdateTerminal(ApiHarness::As(h_.admin).get(), relabel, &updated).ok());
  const v1::GetEffectiveConfigResponse after = get();
  EXPECT_EQ(after.status().state(), v1::CONFIG_SYNC_STATE_PENDING);
  EXPECT_NE(after.status().reason().find("recompute due"), std::string::npos)
      << after.status().reason();
  EXPECT_NE(after.hash(), before.hash());
  // Drift lists and counts say the same, not "in sync" until the refresh pass.
  const v1::ListDriftResponse drift = Drift();
  EXPECT_EQ(drift.in_sync(), 0u);
  EXPECT_EQ(drift.pending(), 1u);
  ASSERT_EQ(drift.terminals_size(), 1);
  EXPECT_NE(drift.terminals(0).reason().find("recompute due"), std::string::npos)
      << drift.terminals(0).reason();
  // Once recomputed, the state is the plain truth again: published, not reported yet.
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  EXPECT_EQ(get().status().desired_hash(), after.hash());
  EXPECT_EQ(get().status().reason().find("recompute due"), std::string::npos);
  EXPECT_EQ(Drift().terminals(0).reason().find("recompute due"), std::string::npos);

  // A relabel that selects no other group leaves the set as it is: the terminal that runs it is
  // in sync at once, and again in drift once recomputed.
  report.revision = static_cast<int64_t>(get().status().desired_revision());
  report.hash = after.hash();
  ASSERT_TRUE(h_.store->ApplyConfigReports({report}).ok());
  v1::UpdateTerminalRequest cosmetic;
  cosmetic.set_id(t);
  (*cosmetic.mutable_set_labels())["shelf"] = "3";
  ASSERT_TRUE(
      h_.terminals->UpdateTerminal(ApiHarness::As(h_.admin).get(), cosmetic, &updated).ok());
  EXPECT_EQ(get().status().state(), v1::CONFIG_SYNC_STATE_IN_SYNC) << get().status().reason();
  EXPECT_EQ(Drift().pending(), 1u);
  ASSERT_TRUE(h_.store->RefreshDesiredConfig().ok());
  EXPECT_EQ(Drift().in_sync(), 1u);
}

// A preview shows what it is asked to (none with sample 0), and a secret's diff says that it
// changes, not "(secret, set)" on both sides; the same secret again is no change at all.
TEST_F(ConfigApiTest, PreviewsShowWhatTheyAreAskedAndWhetherASecretChanges) {
  v1::ParamSpec pw = Spec("host.password", v1::PARAM_TYPE_STRING);
  pw.set_secret(true);
  ASSERT_TRUE(Schema({pw, Spec("receipt.header", v1::PARAM_TYPE_STRING)}).ok());
  const std::string t = Terminal(m1_, "T1");
  ASSERT_TRUE(Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", "first-Pw1"}}).ok());

  v1::SetValuesRequest req;
  req.set_tenant_id(tenant_);
  req.set_kind(v1::LAYER_KIND_TERMINAL);
  req.set_id(t);
  (*req.mutable_set())["receipt.header"] = "Acme";
  req.set_dry_run(true);
  req.set_sample(0);
  v1::ConfigChangeResult none;
  ASSERT_TRUE(h_.config->SetValues(ApiHarness::As(h_.admin).get(), req, &none).ok());
  EXPECT_EQ(none.terminals_changed(), 1);
  EXPECT_EQ(none.sample_size(), 0);

  v1::ConfigChangeResult changed;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", "second-Pw2"}}, {}, true, &changed).ok());
  ASSERT_EQ(changed.sample_size(), 1);
  ASSERT_EQ(changed.sample(0).diffs_size(), 1);
  EXPECT_EQ(changed.sample(0).diffs(0).before(), "(secret, set)");
  EXPECT_EQ(changed.sample(0).diffs(0).after(), "(secret, changed)");
  v1::ConfigChangeResult same;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", "first-Pw1"}}, {}, true, &same).ok());
  EXPECT_EQ(same.terminals_changed(), 0);
}

// Replacing a spec says what it loses (issue 16: a dropped default went by as "changed"), and
// a key can be renamed with its values, secrets included, without ever reading them.
TEST_F(ConfigApiTest, ASpecChangeSaysWhatItLosesAndARenameMovesEveryValue) {
  v1::ParamSpec header = Spec("receipt.header", v1::PARAM_TYPE_STRING);
  header.set_max_length(40);
  header.set_default_value("Thank you");
  v1::ParamSpec pw = Spec("host.password", v1::PARAM_TYPE_STRING);
  pw.set_secret(true);
  ASSERT_TRUE(Schema({header, pw}).ok());
  v1::ParamSpec bare = Spec("receipt.header", v1::PARAM_TYPE_STRING);
  bare.set_max_length(60);
  v1::ConfigChangeResult lost;
  ASSERT_TRUE(Schema({bare}, {}, &lost).ok());
  EXPECT_NE(lost.summary().find("receipt.header (max-length 40 -> 60, default \"Thank you\" "
                                "removed)"),
            std::string::npos)
      << lost.summary();
  v1::ConfigChangeResult same;
  ASSERT_TRUE(Schema({bare}, {}, &same).ok());
  EXPECT_NE(same.summary().find("receipt.header (unchanged)"), std::string::npos) << same.summary();

  const std::string t = Terminal(m1_, "T1");
  ASSERT_TRUE(Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", "s3cret-Pw"}}).ok());
  ASSERT_TRUE(Set(v1::LAYER_KIND_TENANT, "", {{"receipt.header", "Acme"}}).ok());
  auto rename = [&](const std::string& from, const std::string& to, v1::ConfigChangeResult* r) {
    v1::UpdateSchemaRequest req;
    req.set_tenant_id(tenant_);
    (*req.mutable_rename())[from] = to;
    return h_.config->UpdateSchema(ApiHarness::As(h_.admin).get(), req, r);
  };
  v1::ConfigChangeResult r;
  EXPECT_EQ(rename("receipt.header", "host.password", &r).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(rename("no.such", "other.key", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(rename("host.password", "host.secret", &r).ok());
  EXPECT_NE(r.summary().find("renamed host.password -> host.secret"), std::string::npos)
      << r.summary();
  EXPECT_EQ(r.terminals_changed(), 1);
  const auto effective = Effective(t);
  EXPECT_EQ(effective.count("host.password"), 0u);
  ASSERT_EQ(effective.count("host.secret"), 1u);
  EXPECT_EQ(effective.at("host.secret").first, "(secret, set)");
  EXPECT_EQ(effective.at("host.secret").second, v1::LAYER_KIND_TERMINAL);
  // Still the same secret: setting it to its value changes nothing.
  v1::ConfigChangeResult again;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TERMINAL, t, {{"host.secret", "s3cret-Pw"}}, {}, true, &again).ok());
  EXPECT_EQ(again.terminals_changed(), 0);
}

TEST_F(ConfigApiTest, SecretsNeverComeBackOut) {
  v1::ParamSpec pw = Spec("host.password", v1::PARAM_TYPE_STRING);
  pw.set_secret(true);
  ASSERT_TRUE(Schema({pw}).ok());
  const std::string t = Terminal(m1_, "T1");
  const std::string secret = "hunter2-Sup3rSecret";
  v1::ConfigChangeResult preview, commit;
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", secret}}, {}, true, &preview).ok());
  ASSERT_TRUE(
      Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", secret}}, {}, false, &commit).ok());
  std::string everything = preview.DebugString() + commit.DebugString();
  v1::GetLayersRequest layers_req;
  layers_req.set_tenant_id(tenant_);
  v1::GetLayersResponse layers;
  ASSERT_TRUE(h_.config->GetLayers(ApiHarness::As(h_.admin).get(), layers_req, &layers).ok());
  everything += layers.DebugString();
  v1::GetEffectiveConfigRequest eff_req;
  eff_req.set_terminal_id(t);
  v1::GetEffectiveConfigResponse eff;
  ASSERT_TRUE(h_.config->GetEffectiveConfig(ApiHarness::As(h_.admin).get(), eff_req, &eff).ok());
  everything += eff.DebugString();
  EXPECT_EQ(eff.params(0).value(), "(secret, set)");
  v1::ExplainRequest ex_req;
  ex_req.set_terminal_id(t);
  v1::ExplainResponse ex;
  ASSERT_TRUE(h_.config->Explain(ApiHarness::As(h_.admin).get(), ex_req, &ex).ok());
  everything += ex.DebugString();
  v1::ListRevisionsRequest rev_req;
  rev_req.set_tenant_id(tenant_);
  v1::ListRevisionsResponse revs;
  ASSERT_TRUE(h_.config->ListRevisions(ApiHarness::As(h_.admin).get(), rev_req, &revs).ok());
  everything += revs.DebugString();
  // A card number is refused as a secret value as in any other field, and not echoed.
  for (const char* pan : {"4111111111111111", "4111 1111 1111 1111", "x4111-1111-1111-1111"}) {
    grpc::Status refused = Set(v1::LAYER_KIND_TERMINAL, t, {{"host.password", pan}});
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << pan;
    EXPECT_FALSE(absl::StrContains(refused.error_message(), "1111")) << refused.error_message();
  }
  // A value that breaks the spec: the error does not echo it either.
  v1::ParamSpec pw_short = pw;
  pw_short.set_max_length(5);
  grpc::Status refused = Schema({pw_short});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  everything += refused.error_message();
  EXPECT_FALSE(absl::StrContains(everything, secret)) << everything;
  EXPECT_FALSE(absl::StrContains(everything, "hunter2"));

  // Nor in the database: the audit log, and the stored revision (sealed, not in clear).
  pqxx::connection conn(h_.db_url);
  pqxx::nontransaction q(conn);
  EXPECT_EQ(q.exec_params1("SELECT count(*) FROM audit_log WHERE summary LIKE $1", "%hunter2%")[0]
                .as<int64_t>(),
            0);
  EXPECT_EQ(q.exec_params1("SELECT count(*) FROM config_revisions WHERE position($1::bytea IN "
                           "state) > 0",
                           "hunter2")[0]
                .as<int64_t>(),
            0);
  EXPECT_GT(q.exec_params1("SELECT count(*) FROM config_revisions WHERE position('enc1:'::bytea "
                           "IN state) > 0")[0]
                .as<int64_t>(),
            0);
}

TEST_F(ConfigApiTest, TenantsNeverSeeEachOthersParameters) {
  ASSERT_TRUE(Schema({Spec("receipt.header", v1::PARAM_TYPE_STRING)}).ok());
  const std::string t = Terminal(m1_, "T1");
  const std::string other = h_.CreateTenant("other").id();
  const std::string other_admin = h_.CreateToken(v1::ROLE_ADMIN, other);
  const std::string viewer = h_.CreateToken(v1::ROLE_VIEWER, tenant_);

  v1::GetSchemaRequest schema_req;
  schema_req.set_tenant_id(tenant_);
  v1::GetSchemaResponse schema;
  EXPECT_EQ(
      h_.config->GetSchema(ApiHarness::As(other_admin).get(), schema_req, &schema).error_code(),
      grpc::StatusCode::NOT_FOUND);
  v1::SetValuesRequest set;
  set.set_kind(v1::LAYER_KIND_TERMINAL);
  set.set_id(t);
  (*set.mutable_set())["receipt.header"] = "Mine now";
  v1::ConfigChangeResult r;
  EXPECT_EQ(h_.config->SetValues(ApiHarness::As(other_admin).get(), set, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ExplainRequest ex;
  ex.set_terminal_id(t);
  v1::ExplainResponse why;
  EXPECT_EQ(h_.config->Explain(ApiHarness::As(other_admin).get(), ex, &why).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A viewer of the tenant reads but does not change.
  schema_req.clear_tenant_id();
  EXPECT_TRUE(h_.config->GetSchema(ApiHarness::As(viewer).get(), schema_req, &schema).ok());
  EXPECT_EQ(schema.specs_size(), 1);
  EXPECT_EQ(h_.config->SetValues(ApiHarness::As(viewer).get(), set, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The refused change is audited as refused.
  EXPECT_GE(h_.CountAudit("", "ConfigService.SetValues", "PERMISSION_DENIED") +
                h_.CountAudit(tenant_, "ConfigService.SetValues", "PERMISSION_DENIED"),
            1);
}

}  // namespace
}  // namespace posfleet

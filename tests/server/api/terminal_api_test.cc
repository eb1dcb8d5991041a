#include <gtest/gtest.h>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

class TerminalApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenant_ = h_.CreateTenant("acme");
    merchant_ = h_.CreateMerchant(tenant_.id(), "M1");
    op_ = h_.CreateToken(v1::ROLE_OPERATOR, tenant_.id());
  }
  grpc::Status Lifecycle(const std::string& verb, const std::string& id, v1::Terminal* out,
                         const std::string& reason = "") {
    v1::LifecycleRequest r;
    r.set_id(id);
    r.set_reason(reason);
    auto ctx = ApiHarness::As(op_);
    if (verb == "suspend") return h_.terminals->SuspendTerminal(ctx.get(), r, out);
    if (verb == "reactivate") return h_.terminals->ReactivateTerminal(ctx.get(), r, out);
    return h_.terminals->RetireTerminal(ctx.get(), r, out);
  }

  ApiHarness h_;
  v1::Tenant tenant_;
  v1::Merchant merchant_;
  std::string op_;
};

TEST_F(TerminalApiTest, CreateGetAndDuplicate) {
  v1::Terminal t = h_.CreateTerminal(op_, merchant_.id(), "S1", {{"region", "north"}});
  EXPECT_EQ(t.tenant_id(), tenant_.id());
  EXPECT_EQ(t.state(), v1::TERMINAL_STATE_PROVISIONED);
  EXPECT_EQ(t.labels().at("region"), "north");
  EXPECT_GT(t.create_time().seconds(), 0);
  v1::GetTerminalRequest get;
  get.set_id(t.id());
  v1::Terminal got;
  ASSERT_TRUE(h_.terminals->GetTerminal(ApiHarness::As(op_).get(), get, &got).ok());
  EXPECT_EQ(got.serial(), "S1");

  v1::CreateTerminalRequest dup;
  dup.mutable_terminal()->set_merchant_id(merchant_.id());
  dup.mutable_terminal()->set_vendor("PAX");
  dup.mutable_terminal()->set_model("A80");  // other model, same vendor+serial
  dup.mutable_terminal()->set_serial("S1");
  grpc::Status s = h_.terminals->CreateTerminal(ApiHarness::As(op_).get(), dup, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  dup.mutable_terminal()->set_vendor("Ingenico");  // same serial, other vendor: fine
  EXPECT_TRUE(h_.terminals->CreateTerminal(ApiHarness::As(op_).get(), dup, &got).ok());
}

TEST_F(TerminalApiTest, InvalidInputNamesTheField) {
  struct Case {
    std::function<void(v1::CreateTerminalRequest&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.mutable_terminal()->clear_serial(); }, "terminal.serial"},
      {[](auto& r) { r.mutable_terminal()->set_vendor("P A X"); }, "terminal.vendor"},
      {[](auto& r) { r.mutable_terminal()->set_merchant_id("nope"); }, "terminal.merchant_id"},
      {[](auto& r) { r.mutable_terminal()->set_tid("way-too-long-tid-123"); }, "terminal.tid"},
      {[](auto& r) { (*r.mutable_terminal()->mutable_labels())["bad key"] = "v"; },
       "terminal.labels"},
  };
  for (const Case& c : cases) {
    v1::CreateTerminalRequest r;
    r.mutable_terminal()->set_merchant_id(merchant_.id());
    r.mutable_terminal()->set_vendor("PAX");
    r.mutable_terminal()->set_model("A920");
    r.mutable_terminal()->set_serial("OK1");
    c.mutate(r);
    v1::Terminal out;
    grpc::Status s = h_.terminals->CreateTerminal(ApiHarness::As(op_).get(), r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(s.error_message().rfind(c.field, 0), 0u) << s.error_message();
  }
  v1::ListTerminalsResponse list;
  ASSERT_TRUE(h_.terminals->ListTerminals(ApiHarness::As(op_).get(), {}, &list).ok());
  EXPECT_EQ(list.terminals_size(), 0);  // nothing half-written
  v1::ListTerminalsRequest bad_selector;
  bad_selector.set_label_selector("region in north");
  EXPECT_EQ(
      h_.terminals->ListTerminals(ApiHarness::As(op_).get(), bad_selector, &list).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetTerminalRequest get;
  get.set_id("trm_aaaaaaaaaaaaaaaaaaaa");
  v1::Terminal out;
  EXPECT_EQ(h_.terminals->GetTerminal(ApiHarness::As(op_).get(), get, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The rejections are counted.
  EXPECT_EQ(h_.counters.Get("posfleet_api_requests_total",
                            "method=\"CreateTerminal\",code=\"INVALID_ARGUMENT\""),
            5);
}

TEST_F(TerminalApiTest, LabelsAndMerchantMove) {
  v1::Terminal t =
      h_.CreateTerminal(op_, merchant_.id(), "S1", {{"region", "north"}, {"zone", "a"}});
  const v1::Merchant other = h_.CreateMerchant(tenant_.id(), "M2");
  v1::UpdateTerminalRequest r;
  r.set_id(t.id());
  (*r.mutable_set_labels())["region"] = "south";
  (*r.mutable_set_labels())["pilot"] = "yes";
  r.add_remove_labels("zone");
  r.set_merchant_id(other.id());
  r.set_tid("T0001");
  v1::Terminal out;
  ASSERT_TRUE(h_.terminals->UpdateTerminal(ApiHarness::As(op_).get(), r, &out).ok());
  EXPECT_EQ(out.labels().size(), 2u);
  EXPECT_EQ(out.labels().at("region"), "south");
  EXPECT_EQ(out.labels().at("pilot"), "yes");
  EXPECT_EQ(out.merchant_id(), other.id());
  EXPECT_EQ(out.tid(), "T0001");
  v1::UpdateTerminalRequest both;
  both.set_id(t.id());
  (*both.mutable_set_labels())["k"] = "v";
  both.add_remove_labels("k");
  EXPECT_EQ(h_.terminals->UpdateTerminal(ApiHarness::As(op_).get(), both, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TerminalApiTest, LifecycleIsEnforced) {
  v1::Terminal t = h_.CreateTerminal(op_, merchant_.id(), "S1");
  v1::Terminal out;
  EXPECT_EQ(Lifecycle("reactivate", t.id(), &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Lifecycle("suspend", t.id(), &out, "merchant under review").ok());
  EXPECT_EQ(out.state(), v1::TERMINAL_STATE_SUSPENDED);
  ASSERT_TRUE(Lifecycle("suspend", t.id(), &out).ok());  // retry-safe
  ASSERT_TRUE(Lifecycle("reactivate", t.id(), &out).ok());
  EXPECT_EQ(out.state(), v1::TERMINAL_STATE_PROVISIONED);  // never enrolled
  ASSERT_TRUE(Lifecycle("retire", t.id(), &out).ok());
  EXPECT_EQ(out.state(), v1::TERMINAL_STATE_RETIRED);
  // Retired is final: no lifecycle move and no edits.
  EXPECT_EQ(Lifecycle("suspend", t.id(), &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Lifecycle("reactivate", t.id(), &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::UpdateTerminalRequest r;
  r.set_id(t.id());
  (*r.mutable_set_labels())["k"] = "v";
  EXPECT_EQ(h_.terminals->UpdateTerminal(ApiHarness::As(op_).get(), r, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Lifecycle("suspend", t.id(), &out, "card 4111111111111111").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TerminalApiTest, ListFilters) {
  const v1::Merchant m2 = h_.CreateMerchant(tenant_.id(), "M2");
  h_.CreateTerminal(op_, merchant_.id(), "A", {{"region", "north"}, {"model", "A920"}});
  h_.CreateTerminal(op_, merchant_.id(), "B", {{"region", "south"}, {"model", "A80"}});
  v1::Terminal c = h_.CreateTerminal(op_, m2.id(), "C", {{"region", "north"}, {"test", "yes"}});
  v1::Terminal out;
  ASSERT_TRUE(Lifecycle("suspend", c.id(), &out).ok());
  auto serials = [&](v1::ListTerminalsRequest r) {
    v1::ListTerminalsResponse resp;
    EXPECT_TRUE(h_.terminals->ListTerminals(ApiHarness::As(op_).get(), r, &resp).ok());
    std::string s;
    for (const auto& t : resp.terminals()) s += t.serial();
    return s;
  };
  v1::ListTerminalsRequest r;
  r.set_label_selector("region=north");
  EXPECT_EQ(serials(r), "AC");
  r.set_label_selector("region=north,!test");
  EXPECT_EQ(serials(r), "A");
  // vendor and model are there for selectors as the terminal's fields (all three are PAX A920),
  // unless a label of that name says otherwise (B's).
  r.set_label_selector("model in (A920,A80)");
  EXPECT_EQ(serials(r), "ABC");
  r.set_label_selector("model=A920");
  EXPECT_EQ(serials(r), "AC");
  r.set_label_selector("vendor=PAX,model notin (A80)");
  EXPECT_EQ(serials(r), "AC");
  r.set_label_selector("!model");
  EXPECT_EQ(serials(r), "");
  r.clear_label_selector();
  r.set_merchant_id(m2.id());
  EXPECT_EQ(serials(r), "C");
  r.clear_merchant_id();
  r.set_state(v1::TERMINAL_STATE_SUSPENDED);
  EXPECT_EQ(serials(r), "C");
}

TEST_F(TerminalApiTest, PresenceAndHealthAndTheirFilters) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A");
  const v1::Terminal b = h_.CreateTerminal(op_, merchant_.id(), "B");
  const v1::Terminal c = h_.CreateTerminal(op_, merchant_.id(), "C");  // never connects
  h_.MarkActive({a.id(), b.id()});
  core::HealthReport health{a.id(), 1, {}};
  health.health.battery_percent = 18;
  health.health.paper = "out";
  ASSERT_TRUE(h_.store
                  ->ApplyLinkReports({{a.id(), true, 1, "0.1.0"}, {b.id(), true, 1, "0.1.0"}},
                                     {health}, core::kNoHistory)
                  .ok());
  ASSERT_TRUE(h_.store->ApplyLinkReports({{b.id(), false, 1, ""}}, {}, core::kNoHistory).ok());

  v1::GetTerminalRequest get;
  get.set_id(a.id());
  v1::Terminal got;
  ASSERT_TRUE(h_.terminals->GetTerminal(ApiHarness::As(op_).get(), get, &got).ok());
  ASSERT_TRUE(got.has_presence());
  EXPECT_TRUE(got.presence().online());
  EXPECT_EQ(got.presence().health().battery_percent(), 18);
  EXPECT_EQ(got.presence().health().paper(), "out");
  get.set_id(c.id());
  ASSERT_TRUE(h_.terminals->GetTerminal(ApiHarness::As(op_).get(), get, &got).ok());
  EXPECT_FALSE(got.has_presence());

  auto serials = [&](v1::ListTerminalsRequest r) {
    v1::ListTerminalsResponse resp;
    grpc::Status s = h_.terminals->ListTerminals(ApiHarness::As(op_).get(), r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::string out;
    for (const auto& t : resp.terminals()) out += t.serial();
    return out;
  };
  v1::ListTerminalsRequest r;
  r.set_online(true);
  EXPECT_EQ(serials(r), "A");
  r.set_online(false);
  EXPECT_EQ(serials(r), "BC");
  r.clear_online();
  r.set_offline_for_seconds(3600);
  EXPECT_EQ(serials(r), "");  // B went offline just now, C was created just now
  {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec_params(
        "UPDATE terminal_status SET change_time = now() - interval '2 hours' "
        "WHERE terminal_id = $1",
        b.id());
    txn.exec_params("UPDATE terminals SET create_time = now() - interval '3 hours' WHERE id = $1",
                    c.id());
  }
  EXPECT_EQ(serials(r), "BC");
  r.set_online(true);
  v1::ListTerminalsResponse resp;
  EXPECT_EQ(h_.terminals->ListTerminals(ApiHarness::As(op_).get(), r, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace posfleet

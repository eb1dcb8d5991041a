// Bulk import: idempotent by vendor+serial, per-item results, all-or-nothing.

#include <gtest/gtest.h>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenant_ = h_.CreateTenant("acme");
    merchant_ = h_.CreateMerchant(tenant_.id(), "M1");
    op_ = h_.CreateToken(v1::ROLE_OPERATOR, tenant_.id());
  }
  v1::BatchCreateTerminalsRequest Batch(int n, const std::string& prefix = "S") {
    v1::BatchCreateTerminalsRequest r;
    for (int i = 0; i < n; ++i) {
      v1::TerminalSpec* s = r.add_terminals();
      s->set_merchant_id(merchant_.id());
      s->set_vendor("PAX");
      s->set_model("A920");
      s->set_serial(prefix + std::to_string(i));
    }
    return r;
  }
  int CountTerminals() {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn).exec("SELECT count(*) FROM terminals")[0][0].as<int>();
  }
  int CountAuditRows() {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn)
        .exec(
            "SELECT count(*) FROM audit_log WHERE method = "
            "'TerminalService.BatchCreateTerminals' AND target_id <> ''")[0][0]
        .as<int>();
  }

  ApiHarness h_;
  v1::Tenant tenant_;
  v1::Merchant merchant_;
  std::string op_;
};

TEST_F(ImportTest, ImportingTheSameFileTwiceCreatesNothingNew) {
  v1::BatchCreateTerminalsResponse first, second;
  ASSERT_TRUE(
      h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), Batch(500), &first).ok());
  EXPECT_EQ(first.created(), 500);
  EXPECT_EQ(CountTerminals(), 500);
  EXPECT_EQ(CountAuditRows(), 500);  // one audit row per created terminal
  ASSERT_TRUE(
      h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), Batch(500), &second).ok());
  EXPECT_EQ(second.created(), 0);
  EXPECT_EQ(second.skipped(), 500);
  EXPECT_EQ(CountTerminals(), 500);
  EXPECT_EQ(CountAuditRows(), 500);
  // Skipped items point at the terminal that already exists.
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(second.results(i).outcome(), v1::BatchCreateResult::OUTCOME_SKIPPED);
    EXPECT_EQ(second.results(i).terminal_id(), first.results(i).terminal_id());
  }
}

TEST_F(ImportTest, ReportsEachBadItemAndImportsTheRest) {
  v1::BatchCreateTerminalsRequest r = Batch(5);
  r.mutable_terminals(1)->set_serial("bad serial");
  r.mutable_terminals(3)->set_merchant_id("mer_aaaaaaaaaaaaaaaaaaaa");
  *r.add_terminals() = r.terminals(0);  // duplicate inside the batch
  v1::BatchCreateTerminalsResponse resp;
  ASSERT_TRUE(h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), r, &resp).ok());
  EXPECT_EQ(resp.created(), 3);
  EXPECT_EQ(resp.failed(), 2);
  EXPECT_EQ(resp.skipped(), 1);
  EXPECT_FALSE(resp.rolled_back());
  EXPECT_EQ(resp.results(1).outcome(), v1::BatchCreateResult::OUTCOME_FAILED);
  EXPECT_EQ(resp.results(1).field(), "serial");
  EXPECT_EQ(resp.results(3).field(), "merchant_id");
  EXPECT_EQ(resp.results(5).outcome(), v1::BatchCreateResult::OUTCOME_SKIPPED);
  EXPECT_EQ(resp.results(5).terminal_id(), resp.results(0).terminal_id());
  EXPECT_EQ(CountTerminals(), 3);
}

TEST_F(ImportTest, AllOrNothingCreatesNothingWhenAnyItemFails) {
  for (bool server_side_failure : {false, true}) {
    v1::BatchCreateTerminalsRequest r = Batch(50, server_side_failure ? "X" : "Y");
    r.set_all_or_nothing(true);
    if (server_side_failure) {
      r.mutable_terminals(49)->set_merchant_id("mer_aaaaaaaaaaaaaaaaaaaa");  // found only in SQL
    } else {
      r.mutable_terminals(49)->set_vendor("");  // found by validation
    }
    v1::BatchCreateTerminalsResponse resp;
    ASSERT_TRUE(h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), r, &resp).ok());
    EXPECT_TRUE(resp.rolled_back());
    EXPECT_EQ(resp.created(), 0);
    EXPECT_EQ(resp.failed(), 50);
    EXPECT_EQ(CountTerminals(), 0);
    EXPECT_EQ(CountAuditRows(), 0);
  }
}

TEST_F(ImportTest, BatchLimits) {
  v1::BatchCreateTerminalsResponse resp;
  EXPECT_EQ(h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), {}, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(h_.terminals->BatchCreateTerminals(ApiHarness::As(op_).get(), Batch(10001), &resp)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace posfleet

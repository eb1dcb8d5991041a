// An audit row is written exactly when a change commits, and the AuditService finds it.

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(AuditTest, RowExactlyWhenTheChangeCommits) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const v1::Merchant m = h.CreateMerchant(tenant.id(), "M1");
  const std::string tech = h.CreateToken(v1::ROLE_TECHNICIAN, tenant.id());
  v1::Terminal t = h.CreateTerminal(h.admin, m.id(), "S1");
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.CreateTerminal", "OK"), 1);

  // A successful label change: one OK row saying what changed.
  v1::UpdateTerminalRequest label;
  label.set_id(t.id());
  (*label.mutable_set_labels())["region"] = "north";
  v1::Terminal out;
  ASSERT_TRUE(h.terminals->UpdateTerminal(ApiHarness::As(tech).get(), label, &out).ok());
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.UpdateTerminal", "OK"), 1);

  // A change refused by the database (merchant of no tenant): no OK row, one failure row, and the
  // terminal is as it was.
  v1::UpdateTerminalRequest move;
  move.set_id(t.id());
  move.set_merchant_id("mer_aaaaaaaaaaaaaaaaaaaa");
  (*move.mutable_set_labels())["moved"] = "yes";
  EXPECT_EQ(h.terminals->UpdateTerminal(ApiHarness::As(tech).get(), move, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.UpdateTerminal", "OK"), 1);
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.UpdateTerminal", "NOT_FOUND"), 1);
  v1::GetTerminalRequest get;
  get.set_id(t.id());
  ASSERT_TRUE(h.terminals->GetTerminal(ApiHarness::As(tech).get(), get, &out).ok());
  EXPECT_FALSE(out.labels().contains("moved"));
  EXPECT_EQ(out.merchant_id(), m.id());

  // Refused by role: recorded as such, nothing changed.
  v1::LifecycleRequest retire;
  retire.set_id(t.id());
  EXPECT_EQ(h.terminals->RetireTerminal(ApiHarness::As(tech).get(), retire, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.RetireTerminal", "PERMISSION_DENIED"), 1);
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.RetireTerminal", "OK"), 0);

  // Reads are not audited.
  EXPECT_EQ(h.CountAudit(t.id(), "TerminalService.GetTerminal", "OK"), 0);
}

TEST(AuditTest, ListFiltersByActorTargetAndTime) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const v1::Merchant m = h.CreateMerchant(tenant.id(), "M1");
  const std::string op = h.CreateToken(v1::ROLE_OPERATOR, tenant.id());
  v1::Token op_token;
  ASSERT_TRUE(h.tokens->WhoAmI(ApiHarness::As(op).get(), {}, &op_token).ok());
  v1::Terminal t1 = h.CreateTerminal(op, m.id(), "S1");
  v1::Terminal t2 = h.CreateTerminal(h.admin, m.id(), "S2");
  v1::LifecycleRequest suspend;
  suspend.set_id(t1.id());
  suspend.set_reason("merchant under review");
  v1::Terminal out;
  ASSERT_TRUE(h.terminals->SuspendTerminal(ApiHarness::As(op).get(), suspend, &out).ok());

  v1::ListAuditEntriesRequest req;
  req.set_target_id(t1.id());
  v1::ListAuditEntriesResponse resp;
  ASSERT_TRUE(h.audit->ListAuditEntries(ApiHarness::As(op).get(), req, &resp).ok());
  ASSERT_EQ(resp.entries_size(), 2);
  // Newest first, with who, role, tenant, method, summary and result.
  EXPECT_EQ(resp.entries(0).method(), "TerminalService.SuspendTerminal");
  EXPECT_EQ(resp.entries(0).actor_id(), op_token.id());
  EXPECT_EQ(resp.entries(0).role(), v1::ROLE_OPERATOR);
  EXPECT_EQ(resp.entries(0).tenant_id(), tenant.id());
  EXPECT_EQ(resp.entries(0).result(), "OK");
  EXPECT_NE(resp.entries(0).summary().find("provisioned -> suspended"), std::string::npos);
  EXPECT_NE(resp.entries(0).summary().find("merchant under review"), std::string::npos);
  EXPECT_EQ(resp.entries(1).method(), "TerminalService.CreateTerminal");

  req.clear_target_id();
  req.set_actor_id(op_token.id());
  ASSERT_TRUE(h.audit->ListAuditEntries(ApiHarness::As(op).get(), req, &resp).ok());
  for (const auto& e : resp.entries()) EXPECT_EQ(e.actor_id(), op_token.id());
  EXPECT_EQ(resp.entries_size(), 2);

  // Time range: everything so far is before `now + 1h`, nothing after it.
  req.clear_actor_id();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  req.mutable_start_time()->set_seconds(now + 3600);
  ASSERT_TRUE(h.audit->ListAuditEntries(ApiHarness::As(op).get(), req, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 0);
  req.mutable_start_time()->set_seconds(now - 3600);
  req.mutable_end_time()->set_seconds(now + 3600);
  ASSERT_TRUE(h.audit->ListAuditEntries(ApiHarness::As(op).get(), req, &resp).ok());
  EXPECT_GE(resp.entries_size(), 4);
  req.mutable_end_time()->set_seconds(now - 7200);
  EXPECT_EQ(h.audit->ListAuditEntries(ApiHarness::As(op).get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  (void)t2;
}

}  // namespace
}  // namespace posfleet

namespace posfleet {
namespace {

using testing::ApiHarness;

int AuditRows(ApiHarness& h, const std::string& tenant_id, const std::string& method) {
  pqxx::connection conn(h.db_url);
  return pqxx::nontransaction(conn)
      .exec_params1("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND method = $2",
                    tenant_id, method)[0]
      .as<int>();
}

// A refused change is audited under the caller's scope, whatever tenant the request names: a
// rival tenant's admin can neither write into another tenant's log nor hide from its own.
TEST(AuditTest, ARefusedChangeLandsInTheCallersLogNotTheRequestedTenants) {
  ApiHarness h;
  const v1::Tenant a = h.CreateTenant("a");
  const v1::Tenant b = h.CreateTenant("b");
  const std::string b_admin = h.CreateToken(v1::ROLE_ADMIN, b.id());
  const std::string method = "ConfigService.SetValues";
  v1::SetValuesRequest req;
  req.set_tenant_id(a.id());
  req.set_kind(v1::LAYER_KIND_TENANT);
  (*req.mutable_set())["receipt.header"] = "x";
  v1::ConfigChangeResult out;
  grpc::ClientContext ctx1;
  ctx1.AddMetadata("authorization", "Bearer " + b_admin);
  EXPECT_EQ(h.config->SetValues(&ctx1, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(AuditRows(h, a.id(), method), 0);
  EXPECT_EQ(AuditRows(h, b.id(), method), 1);
  // An enormous tenant id cannot break the audit insert either.
  req.set_tenant_id("ten_" + std::string(1 << 20, 'a'));
  grpc::ClientContext ctx2;
  ctx2.AddMetadata("authorization", "Bearer " + b_admin);
  EXPECT_NE(h.config->SetValues(&ctx2, req, &out).error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(AuditRows(h, b.id(), method), 2);
}

}  // namespace
}  // namespace posfleet

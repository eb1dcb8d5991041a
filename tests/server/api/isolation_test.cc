// Tenant A can neither read, list, change nor audit tenant B's objects, and cannot even learn
// that they exist: another tenant's object is NOT_FOUND, exactly like a missing one.

#include <gtest/gtest.h>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(IsolationTest, TenantsNeverSeeEachOther) {
  ApiHarness h;
  const v1::Tenant a = h.CreateTenant("a"), b = h.CreateTenant("b");
  const v1::Merchant ma = h.CreateMerchant(a.id(), "M1"), mb = h.CreateMerchant(b.id(), "M1");
  const std::string admin_a = h.CreateToken(v1::ROLE_ADMIN, a.id());
  const std::string admin_b = h.CreateToken(v1::ROLE_ADMIN, b.id());
  const v1::Terminal ta = h.CreateTerminal(admin_a, ma.id(), "SAME");
  const v1::Terminal tb = h.CreateTerminal(admin_b, mb.id(), "SAME");  // same serial, other tenant
  auto as_a = [&] { return ApiHarness::As(admin_a); };

  // Read.
  v1::GetTerminalRequest get;
  get.set_id(tb.id());
  v1::Terminal t;
  EXPECT_EQ(h.terminals->GetTerminal(as_a().get(), get, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetMerchantRequest getm;
  getm.set_id(mb.id());
  v1::Merchant m;
  EXPECT_EQ(h.merchants->GetMerchant(as_a().get(), getm, &m).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetTenantRequest gett;
  gett.set_id(b.id());
  v1::Tenant tt;
  EXPECT_EQ(h.tenants->GetTenant(as_a().get(), gett, &tt).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The same error as for an id that does not exist at all.
  get.set_id("trm_aaaaaaaaaaaaaaaaaaaa");
  grpc::Status missing = h.terminals->GetTerminal(as_a().get(), get, &t);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);

  // List.
  v1::ListTerminalsResponse terms;
  ASSERT_TRUE(h.terminals->ListTerminals(as_a().get(), {}, &terms).ok());
  ASSERT_EQ(terms.terminals_size(), 1);
  EXPECT_EQ(terms.terminals(0).id(), ta.id());
  v1::ListTerminalsRequest by_merchant;
  by_merchant.set_merchant_id(mb.id());
  ASSERT_TRUE(h.terminals->ListTerminals(as_a().get(), by_merchant, &terms).ok());
  EXPECT_EQ(terms.terminals_size(), 0);
  v1::ListTerminalsRequest other_tenant;
  other_tenant.set_tenant_id(b.id());
  EXPECT_EQ(h.terminals->ListTerminals(as_a().get(), other_tenant, &terms).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListMerchantsResponse merchants;
  ASSERT_TRUE(h.merchants->ListMerchants(as_a().get(), {}, &merchants).ok());
  ASSERT_EQ(merchants.merchants_size(), 1);
  EXPECT_EQ(merchants.merchants(0).id(), ma.id());
  v1::ListTenantsResponse tenants;
  ASSERT_TRUE(h.tenants->ListTenants(as_a().get(), {}, &tenants).ok());
  ASSERT_EQ(tenants.tenants_size(), 1);
  EXPECT_EQ(tenants.tenants(0).id(), a.id());
  v1::ListTokensResponse tokens;
  ASSERT_TRUE(h.tokens->ListTokens(as_a().get(), {}, &tokens).ok());
  for (const v1::Token& tok : tokens.tokens()) EXPECT_EQ(tok.tenant_id(), a.id());

  // Change.
  v1::UpdateTerminalRequest label;
  label.set_id(tb.id());
  (*label.mutable_set_labels())["owned"] = "yes";
  EXPECT_EQ(h.terminals->UpdateTerminal(as_a().get(), label, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::LifecycleRequest retire;
  retire.set_id(tb.id());
  EXPECT_EQ(h.terminals->RetireTerminal(as_a().get(), retire, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::UpdateTerminalRequest move;  // move A's terminal to B's merchant
  move.set_id(ta.id());
  move.set_merchant_id(mb.id());
  EXPECT_EQ(h.terminals->UpdateTerminal(as_a().get(), move, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CreateTerminalRequest create;
  create.mutable_terminal()->set_merchant_id(mb.id());
  create.mutable_terminal()->set_vendor("PAX");
  create.mutable_terminal()->set_model("A920");
  create.mutable_terminal()->set_serial("X1");
  EXPECT_EQ(h.terminals->CreateTerminal(as_a().get(), create, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::DeleteMerchantRequest del;
  del.set_id(mb.id());
  google::protobuf::Empty empty;
  EXPECT_EQ(h.merchants->DeleteMerchant(as_a().get(), del, &empty).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CreateTokenRequest mint;
  mint.set_name("x");
  mint.set_role(v1::ROLE_ADMIN);
  mint.set_tenant_id(b.id());
  v1::CreateTokenResponse minted;
  EXPECT_EQ(h.tokens->CreateToken(as_a().get(), mint, &minted).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // B's objects are untouched.
  get.set_id(tb.id());
  ASSERT_TRUE(h.terminals->GetTerminal(ApiHarness::As(admin_b).get(), get, &t).ok());
  EXPECT_EQ(t.labels_size(), 0);
  EXPECT_EQ(t.state(), v1::TERMINAL_STATE_PROVISIONED);

  // Audit: A sees its own entries (including its refused attempts), never B's.
  v1::ListAuditEntriesResponse audit;
  v1::ListAuditEntriesRequest audit_req;
  audit_req.set_page_size(1000);
  ASSERT_TRUE(h.audit->ListAuditEntries(as_a().get(), audit_req, &audit).ok());
  ASSERT_GT(audit.entries_size(), 0);
  for (const v1::AuditEntry& e : audit.entries()) {
    EXPECT_EQ(e.tenant_id(), a.id()) << e.method();
  }
  // Filtering by B's terminal shows only A's own refused attempts on it, none of B's history.
  audit_req.set_target_id(tb.id());
  ASSERT_TRUE(h.audit->ListAuditEntries(as_a().get(), audit_req, &audit).ok());
  EXPECT_EQ(audit.entries_size(), 2);  // the label and retire attempts
  for (const v1::AuditEntry& e : audit.entries()) EXPECT_EQ(e.result(), "NOT_FOUND") << e.method();
  audit_req.clear_target_id();
  audit_req.set_tenant_id(b.id());
  EXPECT_EQ(h.audit->ListAuditEntries(as_a().get(), audit_req, &audit).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace posfleet

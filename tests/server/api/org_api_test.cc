// MerchantService and TenantService.

#include <gtest/gtest.h>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(OrgApiTest, MerchantCrudAndItsRules) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const std::string op = h.CreateToken(v1::ROLE_OPERATOR, tenant.id());
  v1::CreateMerchantRequest create;
  create.set_name("Cafe Nord");
  create.set_mid("M-001");
  create.set_country("DE");
  v1::Merchant m;
  ASSERT_TRUE(h.merchants->CreateMerchant(ApiHarness::As(op).get(), create, &m).ok());
  EXPECT_EQ(m.tenant_id(), tenant.id());  // defaulted from the token
  EXPECT_EQ(h.merchants->CreateMerchant(ApiHarness::As(op).get(), create, &m).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  create.set_mid("M-002");
  create.set_country("Germany");
  grpc::Status bad = h.merchants->CreateMerchant(ApiHarness::As(op).get(), create, &m);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message().rfind("country", 0), 0u);
  // A global admin must say which tenant.
  create.set_country("");
  EXPECT_EQ(h.merchants->CreateMerchant(ApiHarness::As(h.admin).get(), create, &m).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  create.set_tenant_id("ten_aaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(h.merchants->CreateMerchant(ApiHarness::As(h.admin).get(), create, &m).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::Merchant first;
  v1::GetMerchantRequest get;
  v1::ListMerchantsResponse list;
  ASSERT_TRUE(h.merchants->ListMerchants(ApiHarness::As(op).get(), {}, &list).ok());
  ASSERT_EQ(list.merchants_size(), 1);
  first = list.merchants(0);
  v1::UpdateMerchantRequest update;
  update.set_id(first.id());
  update.set_name("Cafe Nord GmbH");
  ASSERT_TRUE(h.merchants->UpdateMerchant(ApiHarness::As(op).get(), update, &m).ok());
  EXPECT_EQ(m.name(), "Cafe Nord GmbH");
  EXPECT_EQ(m.country(), "DE");  // untouched

  h.CreateTerminal(op, first.id(), "S1");
  v1::DeleteMerchantRequest del;
  del.set_id(first.id());
  google::protobuf::Empty empty;
  EXPECT_EQ(h.merchants->DeleteMerchant(ApiHarness::As(op).get(), del, &empty).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  const v1::Merchant empty_merchant = h.CreateMerchant(tenant.id(), "M-003");
  del.set_id(empty_merchant.id());
  ASSERT_TRUE(h.merchants->DeleteMerchant(ApiHarness::As(op).get(), del, &empty).ok());
  get.set_id(empty_merchant.id());
  EXPECT_EQ(h.merchants->GetMerchant(ApiHarness::As(op).get(), get, &m).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(OrgApiTest, TenantLifecycle) {
  ApiHarness h;
  const v1::Tenant t = h.CreateTenant("acme");
  v1::CreateTenantRequest dup;
  dup.set_name("acme");
  v1::Tenant out;
  EXPECT_EQ(h.tenants->CreateTenant(ApiHarness::As(h.admin).get(), dup, &out).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  v1::UpdateTenantRequest rename;
  rename.set_id(t.id());
  rename.set_name("Acme Acquiring");
  ASSERT_TRUE(h.tenants->UpdateTenant(ApiHarness::As(h.admin).get(), rename, &out).ok());
  EXPECT_EQ(out.name(), "Acme Acquiring");

  const v1::Merchant m = h.CreateMerchant(t.id(), "M1");
  const std::string viewer = h.CreateToken(v1::ROLE_VIEWER, t.id());
  v1::DeleteTenantRequest del;
  del.set_id(t.id());
  google::protobuf::Empty empty;
  EXPECT_EQ(h.tenants->DeleteTenant(ApiHarness::As(h.admin).get(), del, &empty).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::DeleteMerchantRequest delm;
  delm.set_id(m.id());
  ASSERT_TRUE(h.merchants->DeleteMerchant(ApiHarness::As(h.admin).get(), delm, &empty).ok());
  ASSERT_TRUE(h.tenants->DeleteTenant(ApiHarness::As(h.admin).get(), del, &empty).ok());
  // Its tokens went with it.
  v1::Token me;
  EXPECT_EQ(h.tokens->WhoAmI(ApiHarness::As(viewer).get(), {}, &me).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The audit log keeps the whole story.
  EXPECT_EQ(h.CountAudit(t.id(), "TenantService.DeleteTenant", "OK"), 1);
  EXPECT_EQ(h.CountAudit(t.id(), "TenantService.DeleteTenant", "FAILED_PRECONDITION"), 1);
}

}  // namespace
}  // namespace posfleet

// Authentication and the role x method matrix, over a real gRPC channel.

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(AuthTest, MissingMalformedUnknownAndRevokedTokensAreUnauthenticated) {
  ApiHarness h;
  v1::Token me;
  for (const std::string& token :
       {std::string(), std::string("nonsense"), std::string("pft_") + std::string(52, 'a')}) {
    grpc::Status s = h.tokens->WhoAmI(ApiHarness::As(token).get(), {}, &me);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
  }
  const std::string viewer = h.CreateToken(v1::ROLE_VIEWER, h.CreateTenant("a").id());
  ASSERT_TRUE(h.tokens->WhoAmI(ApiHarness::As(viewer).get(), {}, &me).ok());
  EXPECT_EQ(me.role(), v1::ROLE_VIEWER);
  v1::RevokeTokenRequest revoke;
  revoke.set_id(me.id());
  v1::Token revoked;
  ASSERT_TRUE(h.tokens->RevokeToken(ApiHarness::As(h.admin).get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.has_revoke_time());
  // Revocation takes effect on the very next call.
  EXPECT_EQ(h.tokens->WhoAmI(ApiHarness::As(viewer).get(), {}, &me).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AuthTest, SecretsAreStoredOnlyAsHashes) {
  ApiHarness h;
  const std::string secret = h.CreateToken(v1::ROLE_OPERATOR, h.CreateTenant("a").id());
  pqxx::connection conn(h.db_url);
  pqxx::nontransaction txn(conn);
  for (const char* table : {"api_tokens", "audit_log"}) {
    EXPECT_EQ(txn.exec_params1(std::string("SELECT count(*) FROM ") + table +
                                   " t WHERE t::text LIKE '%' || $1 || '%'",
                               secret)[0]
                  .as<int>(),
              0)
        << table;
  }
}

// Every method, called by a tenant-scoped token of each role. Allowed calls may still fail for
// other reasons (NOT_FOUND, FAILED_PRECONDITION), but never with PERMISSION_DENIED; refused calls
// always do, and refused changes are audited as such.
TEST(AuthTest, RoleMethodMatrixOverTheWire) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("a");
  const v1::Merchant merchant = h.CreateMerchant(tenant.id(), "M1");
  const std::string op = h.CreateToken(v1::ROLE_OPERATOR, tenant.id());

  using Call = std::function<grpc::Status(const std::string& token)>;
  int serial = 0;
  auto fresh_terminal = [&] {
    return h.CreateTerminal(op, merchant.id(), "S" + std::to_string(++serial)).id();
  };
  const std::map<std::string, std::pair<std::string, Call>> calls = {
      {"CreateTerminal",
       {"AO",
        [&](const std::string& t) {
          v1::CreateTerminalRequest r;
          auto* s = r.mutable_terminal();
          s->set_merchant_id(merchant.id());
          s->set_vendor("V");
          s->set_model("M");
          s->set_serial("C" + std::to_string(++serial));
          v1::Terminal out;
          return h.terminals->CreateTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"BatchCreateTerminals",
       {"AO",
        [&](const std::string& t) {
          v1::BatchCreateTerminalsRequest r;
          auto* s = r.add_terminals();
          s->set_merchant_id(merchant.id());
          s->set_vendor("V");
          s->set_model("M");
          s->set_serial("B" + std::to_string(++serial));
          v1::BatchCreateTerminalsResponse out;
          return h.terminals->BatchCreateTerminals(ApiHarness::As(t).get(), r, &out);
        }}},
      {"GetTerminal",
       {"AOTV",
        [&](const std::string& t) {
          v1::GetTerminalRequest r;
          r.set_id(fresh_terminal());
          v1::Terminal out;
          return h.terminals->GetTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"ListTerminals",
       {"AOTV",
        [&](const std::string& t) {
          v1::ListTerminalsResponse out;
          return h.terminals->ListTerminals(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"UpdateTerminal",
       {"AOT",
        [&](const std::string& t) {
          v1::UpdateTerminalRequest r;
          r.set_id(fresh_terminal());
          (*r.mutable_set_labels())["k"] = "v";
          v1::Terminal out;
          return h.terminals->UpdateTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"SuspendTerminal",
       {"AOT",
        [&](const std::string& t) {
          v1::LifecycleRequest r;
          r.set_id(fresh_terminal());
          v1::Terminal out;
          return h.terminals->SuspendTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"ReactivateTerminal",
       {"AOT",
        [&](const std::string& t) {
          v1::LifecycleRequest r;
          r.set_id(fresh_terminal());
          v1::Terminal out;
          return h.terminals->ReactivateTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"RetireTerminal",
       {"AO",
        [&](const std::string& t) {
          v1::LifecycleRequest r;
          r.set_id(fresh_terminal());
          v1::Terminal out;
          return h.terminals->RetireTerminal(ApiHarness::As(t).get(), r, &out);
        }}},
      {"IssueActivationCode",
       {"AOT",
        [&](const std::string& t) {
          v1::IssueActivationCodeRequest r;
          r.set_id(fresh_terminal());
          v1::ActivationCode out;
          return h.terminals->IssueActivationCode(ApiHarness::As(t).get(), r, &out);
        }}},
      {"SummarizeFleet",
       {"AOTV",
        [&](const std::string& t) {
          v1::FleetSummary out;
          return h.terminals->SummarizeFleet(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"WatchTerminals",
       {"AOTV",
        [&](const std::string& t) {
          auto ctx = ApiHarness::As(t);
          auto reader = h.terminals->WatchTerminals(ctx.get(), {});
          v1::TerminalEvent e;
          if (reader->Read(&e)) {  // allowed: the watch is open; end it
            ctx->TryCancel();
            (void)reader->Finish();
            return grpc::Status::OK;
          }
          return reader->Finish();
        }}},
      {"CreateMerchant",
       {"AO",
        [&](const std::string& t) {
          v1::CreateMerchantRequest r;
          r.set_name("n");
          r.set_mid("X" + std::to_string(++serial));
          v1::Merchant out;
          return h.merchants->CreateMerchant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"GetMerchant",
       {"AOTV",
        [&](const std::string& t) {
          v1::GetMerchantRequest r;
          r.set_id(merchant.id());
          v1::Merchant out;
          return h.merchants->GetMerchant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"ListMerchants",
       {"AOTV",
        [&](const std::string& t) {
          v1::ListMerchantsResponse out;
          return h.merchants->ListMerchants(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"UpdateMerchant",
       {"AO",
        [&](const std::string& t) {
          v1::UpdateMerchantRequest r;
          r.set_id(merchant.id());
          r.set_name("renamed");
          v1::Merchant out;
          return h.merchants->UpdateMerchant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"DeleteMerchant",
       {"AO",
        [&](const std::string& t) {
          v1::DeleteMerchantRequest r;
          r.set_id(h.CreateMerchant(tenant.id(), "D" + std::to_string(++serial)).id());
          google::protobuf::Empty out;
          return h.merchants->DeleteMerchant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"CreateTenant",
       {"",
        [&](const std::string& t) {
          v1::CreateTenantRequest r;
          r.set_name("t" + std::to_string(++serial));
          v1::Tenant out;
          return h.tenants->CreateTenant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"GetTenant",
       {"AOTV",
        [&](const std::string& t) {
          v1::GetTenantRequest r;
          r.set_id(tenant.id());
          v1::Tenant out;
          return h.tenants->GetTenant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"ListTenants",
       {"AOTV",
        [&](const std::string& t) {
          v1::ListTenantsResponse out;
          return h.tenants->ListTenants(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"UpdateTenant",
       {"",
        [&](const std::string& t) {
          v1::UpdateTenantRequest r;
          r.set_id(tenant.id());
          r.set_name("renamed");
          v1::Tenant out;
          return h.tenants->UpdateTenant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"DeleteTenant",
       {"",
        [&](const std::string& t) {
          v1::DeleteTenantRequest r;
          r.set_id(tenant.id());
          google::protobuf::Empty out;
          return h.tenants->DeleteTenant(ApiHarness::As(t).get(), r, &out);
        }}},
      {"CreateToken",
       {"A",
        [&](const std::string& t) {
          v1::CreateTokenRequest r;
          r.set_name("n");
          r.set_role(v1::ROLE_VIEWER);
          v1::CreateTokenResponse out;
          return h.tokens->CreateToken(ApiHarness::As(t).get(), r, &out);
        }}},
      {"ListTokens",
       {"A",
        [&](const std::string& t) {
          v1::ListTokensResponse out;
          return h.tokens->ListTokens(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"RevokeToken",
       {"A",
        [&](const std::string& t) {
          v1::RevokeTokenRequest r;
          r.set_id("tok_aaaaaaaaaaaaaaaaaaaa");
          v1::Token out;
          return h.tokens->RevokeToken(ApiHarness::As(t).get(), r, &out);
        }}},
      {"WhoAmI",
       {"AOTV",
        [&](const std::string& t) {
          v1::Token out;
          return h.tokens->WhoAmI(ApiHarness::As(t).get(), {}, &out);
        }}},
      {"ListAuditEntries",
       {"AO",
        [&](const std::string& t) {
          v1::ListAuditEntriesResponse out;
          return h.audit->ListAuditEntries(ApiHarness::As(t).get(), {}, &out);
        }}},
  };
  ASSERT_EQ(calls.size(), 26u);  // every bearer-token method; Enroll takes a code instead
  const std::pair<v1::Role, char> roles[] = {{v1::ROLE_ADMIN, 'A'},
                                             {v1::ROLE_OPERATOR, 'O'},
                                             {v1::ROLE_TECHNICIAN, 'T'},
                                             {v1::ROLE_VIEWER, 'V'}};
  for (const auto& [role, letter] : roles) {
    const std::string token = h.CreateToken(role, tenant.id());
    for (const auto& [name, entry] : calls) {
      const bool allowed = entry.first.find(letter) != std::string::npos;
      grpc::Status s = entry.second(token);
      if (allowed) {
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << name << " as " << letter << ": " << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << name << " as " << letter;
      }
    }
  }
  // Refused changes leave a trace.
  pqxx::connection conn(h.db_url);
  EXPECT_GT(pqxx::nontransaction(conn)
                .exec("SELECT count(*) FROM audit_log WHERE result = 'PERMISSION_DENIED' "
                      "AND method = 'TerminalService.RetireTerminal'")[0][0]
                .as<int>(),
            0);
}

TEST(AuthTest, GlobalAdminMayManageTenantsButScopedAdminMayNotMintGlobalTokens) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("a");
  const std::string tenant_admin = h.CreateToken(v1::ROLE_ADMIN, tenant.id());
  v1::CreateTokenRequest r;
  r.set_name("escalate");
  r.set_role(v1::ROLE_ADMIN);
  v1::CreateTokenResponse out;
  // Its own tenant: fine. Empty tenant: its own tenant, never global.
  ASSERT_TRUE(h.tokens->CreateToken(ApiHarness::As(tenant_admin).get(), r, &out).ok());
  EXPECT_EQ(out.token().tenant_id(), tenant.id());
  // A non-admin global token is refused even for the global admin.
  r.set_role(v1::ROLE_VIEWER);
  EXPECT_EQ(h.tokens->CreateToken(ApiHarness::As(h.admin).get(), r, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace posfleet

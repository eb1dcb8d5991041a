#include "server/core/permissions.h"

#include <gtest/gtest.h>

#include <map>

namespace posfleet::core {
namespace {

// The expected matrix, written out independently of permissions.cc: "A" admin, "O" operator,
// "T" technician, "V" viewer, "X" a terminal enrolling itself; "G" = global admin only.
const std::map<Method, std::string> kExpected = {
    {Method::kCreateTerminal, "AO"},
    {Method::kBatchCreateTerminals, "AO"},
    {Method::kGetTerminal, "AOTV"},
    {Method::kListTerminals, "AOTV"},
    {Method::kUpdateTerminal, "AOT"},
    {Method::kSuspendTerminal, "AOT"},
    {Method::kReactivateTerminal, "AOT"},
    {Method::kRetireTerminal, "AO"},
    {Method::kIssueActivationCode, "AOT"},
    {Method::kEnroll, "X"},
    {Method::kRenewCertificate, "X"},
    {Method::kSummarizeFleet, "AOTV"},
    {Method::kGetConfigSchema, "AOTV"},
    {Method::kUpdateConfigSchema, "AO"},
    {Method::kSetConfigGroup, "AO"},
    {Method::kDeleteConfigGroup, "AO"},
    {Method::kSetConfigValues, "AO"},
    {Method::kGetConfigLayers, "AOTV"},
    {Method::kListConfigRevisions, "AOTV"},
    {Method::kDiffConfigRevisions, "AOTV"},
    {Method::kRestoreConfigRevision, "AO"},
    {Method::kGetEffectiveConfig, "AOTV"},
    {Method::kExplainConfig, "AOTV"},
    {Method::kListConfigDrift, "AOTV"},
    {Method::kWatchTerminals, "AOTV"},
    {Method::kListHealthHistory, "AOTV"},
    {Method::kCreateMerchant, "AO"},
    {Method::kGetMerchant, "AOTV"},
    {Method::kListMerchants, "AOTV"},
    {Method::kUpdateMerchant, "AO"},
    {Method::kDeleteMerchant, "AO"},
    {Method::kCreateTenant, "G"},
    {Method::kGetTenant, "AOTV"},
    {Method::kListTenants, "AOTV"},
    {Method::kUpdateTenant, "G"},
    {Method::kDeleteTenant, "G"},
    {Method::kCreateToken, "A"},
    {Method::kListTokens, "A"},
    {Method::kRevokeToken, "A"},
    {Method::kWhoAmI, "AOTV"},
    {Method::kListAuditEntries, "AO"},
    {Method::kListTransactions, "AOTV"},
    {Method::kDailyReport, "AOV"},
    {Method::kListSilentTerminals, "AOTV"},
};

TEST(PermissionsTest, EveryRoleAgainstEveryMethod) {
  ASSERT_EQ(kExpected.size(), static_cast<size_t>(kMethodCount));
  const std::pair<Role, char> roles[] = {{Role::kAdmin, 'A'},
                                         {Role::kOperator, 'O'},
                                         {Role::kTechnician, 'T'},
                                         {Role::kViewer, 'V'},
                                         {Role::kTerminal, 'X'}};
  for (const auto& [method, allowed] : kExpected) {
    for (const auto& [role, letter] : roles) {
      for (bool global : {false, true}) {
        if (global && role != Role::kAdmin) continue;  // only admins can be global
        Actor actor{"tok_x", "t", role, global ? "" : "ten_a"};
        bool want = allowed.find(letter) != std::string::npos ||
                    (allowed == "G" && role == Role::kAdmin && global);
        absl::Status got = Authorize(actor, method);
        EXPECT_EQ(got.ok(), want) << MethodName(method) << " as " << RoleName(role)
                                  << (global ? " (global)" : "") << ": " << got;
        if (!want) {
          EXPECT_EQ(got.code(), absl::StatusCode::kPermissionDenied);
        }
      }
    }
  }
}

TEST(PermissionsTest, MethodNamesAreServiceQualified) {
  EXPECT_EQ(MethodName(Method::kSuspendTerminal), "TerminalService.SuspendTerminal");
  EXPECT_EQ(MethodName(Method::kListAuditEntries), "AuditService.ListAuditEntries");
}

}  // namespace
}  // namespace posfleet::core

namespace posfleet::core {
namespace {

TEST(MethodByRpcNameTest, EveryMethodIsFoundByItsRpcNameAlone) {
  for (int i = 0; i < kMethodCount; ++i) {
    const Method m = static_cast<Method>(i);
    const absl::string_view name = MethodName(m);
    const absl::string_view rpc = name.substr(name.find('.') + 1);
    EXPECT_EQ(MethodByRpcName(rpc), m) << name << ": RPC names must be unique across services";
  }
  EXPECT_FALSE(MethodByRpcName("Nothing").has_value());
  EXPECT_TRUE(Mutates(Method::kSetConfigValues));
  EXPECT_FALSE(Mutates(Method::kListTerminals));
}

}  // namespace
}  // namespace posfleet::core

#include "server/core/permissions.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace posfleet::core {
namespace {

// Which roles may call a method; kGlobalAdmin methods also need a token without tenant scope.
enum Allowed : unsigned {
  kA = 1u << static_cast<unsigned>(Role::kAdmin),
  kO = 1u << static_cast<unsigned>(Role::kOperator),
  kT = 1u << static_cast<unsigned>(Role::kTechnician),
  kV = 1u << static_cast<unsigned>(Role::kViewer),
  kTerm = 1u << static_cast<unsigned>(Role::kTerminal),
  kGlobalAdmin = 1u << 8,
};

struct Rule {
  Method method;
  absl::string_view name;
  unsigned allowed;
};

// The role x method matrix, in one place. Keep in step with docs/api.md.
constexpr std::array<Rule, kMethodCount> kRules = {{
    {Method::kCreateTerminal, "TerminalService.CreateTerminal", kA | kO},
    {Method::kBatchCreateTerminals, "TerminalService.BatchCreateTerminals", kA | kO},
    {Method::kGetTerminal, "TerminalService.GetTerminal", kA | kO | kT | kV},
    {Method::kListTerminals, "TerminalService.ListTerminals", kA | kO | kT | kV},
    {Method::kUpdateTerminal, "TerminalService.UpdateTerminal", kA | kO | kT},
    {Method::kSuspendTerminal, "TerminalService.SuspendTerminal", kA | kO | kT},
    {Method::kReactivateTerminal, "TerminalService.ReactivateTerminal", kA | kO | kT},
    {Method::kRetireTerminal, "TerminalService.RetireTerminal", kA | kO},
    {Method::kIssueActivationCode, "TerminalService.IssueActivationCode", kA | kO | kT},
    {Method::kSummarizeFleet, "TerminalService.SummarizeFleet", kA | kO | kT | kV},
    {Method::kWatchTerminals, "TerminalService.WatchTerminals", kA | kO | kT | kV},
    {Method::kListHealthHistory, "TerminalService.ListHealthHistory", kA | kO | kT | kV},
    {Method::kCreateMerchant, "MerchantService.CreateMerchant", kA | kO},
    {Method::kGetMerchant, "MerchantService.GetMerchant", kA | kO | kT | kV},
    {Method::kListMerchants, "MerchantService.ListMerchants", kA | kO | kT | kV},
    {Method::kUpdateMerchant, "MerchantService.UpdateMerchant", kA | kO},
    {Method::kDeleteMerchant, "MerchantService.DeleteMerchant", kA | kO},
    {Method::kCreateTenant, "TenantService.CreateTenant", kA | kGlobalAdmin},
    {Method::kGetTenant, "TenantService.GetTenant", kA | kO | kT | kV},
    {Method::kListTenants, "TenantService.ListTenants", kA | kO | kT | kV},
    {Method::kUpdateTenant, "TenantService.UpdateTenant", kA | kGlobalAdmin},
    {Method::kDeleteTenant, "TenantService.DeleteTenant", kA | kGlobalAdmin},
    {Method::kCreateToken, "TokenService.CreateToken", kA},
    {Method::kListTokens, "TokenService.ListTokens", kA},
    {Method::kRevokeToken, "TokenService.RevokeToken", kA},
    {Method::kWhoAmI, "TokenService.WhoAmI", kA | kO | kT | kV},
    {Method::kListAuditEntries, "AuditService.ListAuditEntries", kA | kO},
    {Method::kListTransactions, "TransactionService.ListTransactions", kA | kO | kT | kV},
    {Method::kDailyReport, "TransactionService.DailyReport", kA | kO | kV},
    {Method::kListSilentTerminals, "TransactionService.ListSilentTerminals", kA | kO | kT | kV},
    {Method::kEnroll, "EnrollmentService.Enroll", kTerm},
    {Method::kRenewCertificate, "EnrollmentService.RenewCertificate", kTerm},
    {Method::kGetConfigSchema, "ConfigService.GetSchema", kA | kO | kT | kV},
    {Method::kUpdateConfigSchema, "ConfigService.UpdateSchema", kA | kO},
    {Method::kSetConfigGroup, "ConfigService.SetGroup", kA | kO},
    {Method::kDeleteConfigGroup, "ConfigService.DeleteGroup", kA | kO},
    {Method::kSetConfigValues, "ConfigService.SetValues", kA | kO},
    {Method::kGetConfigLayers, "ConfigService.GetLayers", kA | kO | kT | kV},
    {Method::kListConfigRevisions, "ConfigService.ListRevisions", kA | kO | kT | kV},
    {Method::kRestoreConfigRevision, "ConfigService.RestoreRevision", kA | kO},
    {Method::kGetEffectiveConfig, "ConfigService.GetEffectiveConfig", kA | kO | kT | kV},
    {Method::kExplainConfig, "ConfigService.Explain", kA | kO | kT | kV},
    {Method::kListConfigDrift, "ConfigService.ListDrift", kA | kO | kT | kV},
    {Method::kDiffConfigRevisions, "ConfigService.DiffRevisions", kA | kO | kT | kV},
}};

const Rule& RuleFor(Method method) { return kRules[static_cast<size_t>(method)]; }

}  // namespace

absl::string_view MethodName(Method method) { return RuleFor(method).name; }

std::optional<Method> MethodByRpcName(absl::string_view rpc) {
  for (const Rule& rule : kRules) {
    const size_t dot = rule.name.find('.');
    if (rule.name.substr(dot + 1) == rpc) return rule.method;
  }
  return std::nullopt;
}

bool Mutates(Method method) {
  switch (method) {
    case Method::kCreateTerminal:
    case Method::kBatchCreateTerminals:
    case Method::kUpdateTerminal:
    case Method::kSuspendTerminal:
    case Method::kReactivateTerminal:
    case Method::kRetireTerminal:
    case Method::kIssueActivationCode:
    case Method::kCreateMerchant:
    case Method::kUpdateMerchant:
    case Method::kDeleteMerchant:
    case Method::kCreateTenant:
    case Method::kUpdateTenant:
    case Method::kDeleteTenant:
    case Method::kCreateToken:
    case Method::kRevokeToken:
    case Method::kEnroll:
    case Method::kRenewCertificate:
    case Method::kUpdateConfigSchema:
    case Method::kSetConfigGroup:
    case Method::kDeleteConfigGroup:
    case Method::kSetConfigValues:
    case Method::kRestoreConfigRevision:
      return true;
    default:
      return false;
  }
}

absl::Status Authorize(const Actor& actor, Method method) {
  const Rule& rule = RuleFor(method);
  const unsigned bit = 1u << static_cast<unsigned>(actor.role);
  if ((rule.allowed & bit) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(actor.role), " may not call ", rule.name));
  }
  if ((rule.allowed & kGlobalAdmin) != 0 && !actor.global()) {
    return absl::PermissionDeniedError(
        absl::StrCat(rule.name, " needs a global admin token (this token is scoped to a tenant)"));
  }
  return absl::OkStatus();
}

}  // namespace posfleet::core

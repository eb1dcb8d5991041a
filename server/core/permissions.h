#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/core/types.h"

namespace posfleet::core {

// Every API method, named as "<Service>.<Method>" in the audit log.
enum class Method {
  kCreateTerminal,
  kBatchCreateTerminals,
  kGetTerminal,
  kListTerminals,
  kUpdateTerminal,
  kSuspendTerminal,
  kReactivateTerminal,
  kRetireTerminal,
  kIssueActivationCode,
  kSummarizeFleet,
  kWatchTerminals,
  kListHealthHistory,
  kCreateMerchant,
  kGetMerchant,
  kListMerchants,
  kUpdateMerchant,
  kDeleteMerchant,
  kCreateTenant,
  kGetTenant,
  kListTenants,
  kUpdateTenant,
  kDeleteTenant,
  kCreateToken,
  kListTokens,
  kRevokeToken,
  kWhoAmI,
  kListAuditEntries,
  kListTransactions,
  kDailyReport,
  kListSilentTerminals,
  kEnroll,
  kRenewCertificate,
  kGetConfigSchema,
  kUpdateConfigSchema,
  kSetConfigGroup,
  kDeleteConfigGroup,
  kSetConfigValues,
  kGetConfigLayers,
  kListConfigRevisions,
  kRestoreConfigRevision,
  kGetEffectiveConfig,
  kExplainConfig,
  kListConfigDrift,
  kDiffConfigRevisions,
};
inline constexpr int kMethodCount = static_cast<int>(Method::kDiffConfigRevisions) + 1;

absl::string_view MethodName(Method method);  // "TerminalService.CreateTerminal"

// The method whose name ends in "." + `rpc` ("CreateTerminal"); the RPC names are unique across
// services (tests/server/core/permissions_test.cc).
std::optional<Method> MethodByRpcName(absl::string_view rpc);

// Whether `method` changes anything: every call of such a method, accepted or refused, writes
// exactly one audit row (server/core/audited.h, server/api/handler.h).
bool Mutates(Method method);

// Whether `actor` may call `method` at all. Row visibility (tenant scope) is decided separately by
// the store; a method that is allowed can still find nothing. PermissionDenied names the role.
absl::Status Authorize(const Actor& actor, Method method);

}  // namespace posfleet::core

#pragma once

// Helpers of ConfigRegistry's files (config_registry.cc, config_schema_change.cc): the layers of a
// configuration, how changes are named in summaries, and the audit of a change that may be a
// preview. Not for use outside the config registry.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/audited.h"
#include "server/core/config_registry.h"
#include "server/core/params.h"
#include "server/core/repositories/audit_log.h"

namespace posfleet::core::config_edits {

inline constexpr size_t kMaxSummaryItems = 10;
inline constexpr size_t kMaxOffendersListed = 50;

// Runs a change with its audit entry; a dry run is not a change and is not audited.
template <typename Fn>
auto MaybeAudited(AuditLog& store, const AuditEntry& entry, bool dry_run, Fn&& fn)
    -> decltype(fn()) {
  if (dry_run) {
    AuditedCall::MarkHandled();  // a preview changes nothing and writes no row
    return fn();
  }
  return Audited(store, entry, std::forward<Fn>(fn));
}

absl::Status CheckOptions(const ChangeOptions& options);

// "terminal trm_1", "group north", "merchant mer_1", "tenant"
std::string LayerName(LayerKind kind, absl::string_view id);

// Every layer of a configuration, for the checks that go over all stored values.
std::vector<ParamLayer*> AllLayers(TenantParams& p);

// The layer a value change edits, created if absent. NotFound for an unknown group.
absl::StatusOr<ParamLayer*> LayerOf(TenantParams& p, LayerKind kind, const std::string& id);

// Layers without values are not kept.
void DropEmptyLayers(TenantParams& p);

// A value as a summary shows it: "(secret)", or quoted and cut at 60 characters.
std::string Quoted(const ParamSpec& spec, absl::string_view value);

// 1-40 characters of a-z, 0-9 and '-', starting with a letter or digit.
absl::Status ValidateGroupName(absl::string_view name);

// At most kMaxSummaryItems of `items`, then "and N more".
std::string JoinLimited(const std::vector<std::string>& items);

}  // namespace posfleet::core::config_edits

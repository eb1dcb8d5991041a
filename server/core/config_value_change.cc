// ConfigRegistry::SetValues: values set, unset, or items added to and removed from lists on one
// layer, each checked against its spec (secrets sealed) under the tenant's lock.

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/core/config_edits.h"
#include "server/core/config_registry.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

using config_edits::DropEmptyLayers;
using config_edits::JoinLimited;
using config_edits::LayerName;
using config_edits::LayerOf;
using config_edits::MaybeAudited;
using config_edits::Quoted;
using config_edits::ValidateGroupName;

// Something to change, within the limit, every key well formed and edited one way only.
absl::Status CheckValueChange(const ValueChange& change) {
  if (change.set.empty() && change.unset.empty() && change.add.empty() && change.remove.empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give KEY=VALUE to set, KEY+=ITEMS or KEY-=ITEMS for a list, or "
        "keys to unset");
  }
  if (change.set.size() + change.unset.size() + change.add.size() + change.remove.size() >
      kMaxValuesPerChange) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxValuesPerChange, " keys per change"));
  }
  for (const auto& [key, value] : change.set) RETURN_IF_ERROR(ValidateParamKey(key));
  for (const std::string& key : change.unset) {
    RETURN_IF_ERROR(ValidateParamKey(key));
    if (change.set.count(key) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": both set and unset"));
    }
  }
  for (const auto* edits : {&change.add, &change.remove}) {
    for (const auto& [key, items] : *edits) {
      RETURN_IF_ERROR(ValidateParamKey(key));
      if (change.set.count(key) != 0 ||
          std::find(change.unset.begin(), change.unset.end(), key) != change.unset.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": items are added or removed, or the value set or unset"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const ParamSpec*> SpecOf(const TenantParams& p, const std::string& key) {
  auto spec = p.schema.find(key);
  if (spec == p.schema.end()) {
    return absl::NotFoundError(
        absl::StrCat(key, ": not in the schema (add it with config schema set)"));
  }
  return &spec->second;
}

// List edits apply to the value as it is now, under the tenant's lock: two made at once both
// land. Appends "key=value" of each edited list to `set`.
absl::Status EditLists(const TenantParams& p, ParamLayer& layer, const ValueChange& change,
                       std::vector<std::string>& set) {
  std::set<std::string> edited;
  for (const auto& [key, items] : change.add) edited.insert(key);
  for (const auto& [key, items] : change.remove) edited.insert(key);
  for (const std::string& key : edited) {
    ASSIGN_OR_RETURN(const ParamSpec* spec, SpecOf(p, key));
    auto current = layer.values.find(key);
    const std::string from =
        current != layer.values.end() ? current->second : spec->default_value.value_or("");
    auto add = change.add.find(key);
    auto remove = change.remove.find(key);
    ASSIGN_OR_RETURN(std::string value,
                     EditList(*spec, from, add != change.add.end() ? add->second : "",
                              remove != change.remove.end() ? remove->second : ""));
    layer.values[key] = value;
    set.push_back(absl::StrCat(key, "=", Quoted(*spec, value)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ConfigRegistry::ValueTenant(const Actor& actor,
                                                        absl::string_view tenant_id,
                                                        const ValueChange& change) {
  switch (change.kind) {
    case LayerKind::kTenant:
      if (!change.id.empty() && change.id != tenant_id) {
        return absl::InvalidArgumentError("id: the tenant layer takes no id (or the tenant's)");
      }
      return std::string(tenant_id);
    case LayerKind::kGroup:
      RETURN_IF_ERROR(ValidateGroupName(change.id));
      return std::string(tenant_id);
    case LayerKind::kMerchant: {
      RETURN_IF_ERROR(ValidateId("id", change.id, "mer"));
      ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
      ASSIGN_OR_RETURN(Merchant m, org_.GetMerchant(scope, change.id));
      return m.tenant_id;
    }
    case LayerKind::kTerminal: {
      RETURN_IF_ERROR(ValidateId("id", change.id, "trm"));
      ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
      ASSIGN_OR_RETURN(Terminal t, terminals_.GetTerminal(scope, change.id));
      return t.tenant_id;
    }
    case LayerKind::kDefault:
      break;
  }
  return absl::InvalidArgumentError(
      "kind: give tenant, group, merchant or terminal (defaults are part of the schema)");
}

absl::StatusOr<std::string> ConfigRegistry::ApplyValueChange(TenantParams& p,
                                                             const ValueChange& change) const {
  ASSIGN_OR_RETURN(ParamLayer * layer, LayerOf(p, change.kind, change.id));
  std::vector<std::string> set, unset;
  for (const auto& [key, text] : change.set) {
    ASSIGN_OR_RETURN(const ParamSpec* spec, SpecOf(p, key));
    ASSIGN_OR_RETURN(std::string stored, Stored(p, *layer, *spec, text));
    layer->values[key] = stored;
    set.push_back(absl::StrCat(key, "=", Quoted(*spec, spec->secret ? "" : stored)));
  }
  RETURN_IF_ERROR(EditLists(p, *layer, change, set));
  for (const std::string& key : change.unset) {
    if (layer->values.erase(key) == 0) {
      return absl::NotFoundError(
          absl::StrCat(key, ": not set on ", LayerName(change.kind, change.id)));
    }
    unset.push_back(key);
  }
  DropEmptyLayers(p);
  std::string summary = absl::StrCat("on ", LayerName(change.kind, change.id));
  if (!set.empty()) absl::StrAppend(&summary, " set ", JoinLimited(set));
  if (!unset.empty()) {
    absl::StrAppend(&summary, set.empty() ? "" : ";", " unset ", JoinLimited(unset));
  }
  return summary;
}

absl::StatusOr<ChangeResult> ConfigRegistry::SetValues(const Actor& actor,
                                                       absl::string_view tenant_id,
                                                       const ValueChange& change,
                                                       const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kSetConfigValues, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kSetConfigValues));
    RETURN_IF_ERROR(CheckValueChange(change));
    ASSIGN_OR_RETURN(std::string tenant, ValueTenant(actor, tenant_id, change));
    return Commit(actor, audit, tenant, options,
                  [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
                    return ApplyValueChange(p, change);
                  });
  });
}

}  // namespace posfleet::core

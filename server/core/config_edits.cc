#include "server/core/config_edits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace posfleet::core::config_edits {

absl::Status CheckOptions(const ChangeOptions& options) {
  if (options.message.size() > kMaxConfigMessage) {
    return absl::InvalidArgumentError(
        absl::StrCat("message: at most ", kMaxConfigMessage, " characters"));
  }
  if (options.sample > kMaxChangeSample) {
    return absl::InvalidArgumentError(absl::StrCat("sample: at most ", kMaxChangeSample));
  }
  return absl::OkStatus();
}

std::string LayerName(LayerKind kind, absl::string_view id) {
  if (kind == LayerKind::kTenant) return "tenant";
  return absl::StrCat(LayerKindName(kind), " ", id);
}

std::vector<ParamLayer*> AllLayers(TenantParams& p) {
  std::vector<ParamLayer*> out = {&p.tenant};
  for (ParamGroup& g : p.groups) out.push_back(&g.layer);
  for (auto& [id, l] : p.merchants) out.push_back(&l);
  for (auto& [id, l] : p.terminals) out.push_back(&l);
  return out;
}

absl::StatusOr<ParamLayer*> LayerOf(TenantParams& p, LayerKind kind, const std::string& id) {
  switch (kind) {
    case LayerKind::kTenant:
      return &p.tenant;
    case LayerKind::kGroup:
      for (ParamGroup& g : p.groups) {
        if (g.layer.id == id) return &g.layer;
      }
      return absl::NotFoundError(absl::StrCat("group ", id, " not found (config group set)"));
    case LayerKind::kMerchant: {
      auto [it, added] = p.merchants.try_emplace(id, ParamLayer{kind, id, "", 0, {}});
      return &it->second;
    }
    case LayerKind::kTerminal: {
      auto [it, added] = p.terminals.try_emplace(id, ParamLayer{kind, id, "", 0, {}});
      return &it->second;
    }
    case LayerKind::kDefault:
      break;
  }
  return absl::InvalidArgumentError("kind: the schema default is set with config schema");
}

void DropEmptyLayers(TenantParams& p) {
  std::erase_if(p.merchants, [](const auto& kv) { return kv.second.values.empty(); });
  std::erase_if(p.terminals, [](const auto& kv) { return kv.second.values.empty(); });
}

std::string Quoted(const ParamSpec& spec, absl::string_view value) {
  if (spec.secret) return "(secret)";
  std::string shown(value.substr(0, 60));
  if (value.size() > 60) shown += "...";
  return absl::StrCat("\"", shown, "\"");
}

std::string JoinLimited(const std::vector<std::string>& items) {
  std::vector<std::string> shown(items.begin(),
                                 items.begin() + std::min(items.size(), kMaxSummaryItems));
  std::string out = absl::StrJoin(shown, ", ");
  if (items.size() > kMaxSummaryItems) {
    absl::StrAppend(&out, " and ", items.size() - kMaxSummaryItems, " more");
  }
  return out;
}

absl::Status ValidateGroupName(absl::string_view name) {
  static const LazyRE2 kName = {"[a-z0-9][a-z0-9-]{0,39}"};
  if (!RE2::FullMatch(std::string(name), *kName)) {
    return absl::InvalidArgumentError(
        "group name: 1-40 characters of a-z, 0-9 and '-', starting with a letter or digit");
  }
  return absl::OkStatus();
}

}  // namespace posfleet::core::config_edits

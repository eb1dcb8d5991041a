#include "server/store/config_document.h"

#include "absl/strings/str_cat.h"
#include "common/param_spec_proto.h"
#include "common/secret_box.h"
#include "common/status_macros.h"
#include "posfleet/v1/config.pb.h"

namespace posfleet::store {
namespace {

template <typename Map>
void CopyValues(const Map& from, std::map<std::string, std::string, std::less<>>& to) {
  for (const auto& [k, v] : from) to.emplace(k, v);
}

}  // namespace

std::string EncodeConfigDocument(const core::TenantParams& params) {
  v1::ConfigDocument doc;
  for (const auto& [key, spec] : params.schema) ToProto(spec, doc.add_specs());
  doc.mutable_tenant_values()->insert(params.tenant.values.begin(), params.tenant.values.end());
  for (const core::ParamGroup& g : params.groups) {
    v1::ConfigDocument::Group* out = doc.add_groups();
    out->mutable_group()->set_name(g.layer.id);
    out->mutable_group()->set_selector(g.selector_text);
    out->mutable_group()->set_priority(g.layer.priority);
    out->mutable_values()->insert(g.layer.values.begin(), g.layer.values.end());
  }
  for (const auto& [id, layer] : params.merchants) {
    (*doc.mutable_merchants())[id].mutable_values()->insert(layer.values.begin(),
                                                            layer.values.end());
  }
  for (const auto& [id, layer] : params.terminals) {
    (*doc.mutable_terminals())[id].mutable_values()->insert(layer.values.begin(),
                                                            layer.values.end());
  }
  doc.set_hash_key(params.hash_key_sealed);
  // The digests of the sealed values still in some layer (an unset or replaced secret's goes).
  auto keep_digests = [&](const std::map<std::string, std::string, std::less<>>& values) {
    for (const auto& [key, value] : values) {
      auto digest = params.secret_digests.find(value);
      if (digest != params.secret_digests.end()) {
        (*doc.mutable_secret_digests())[value] = digest->second;
      }
    }
  };
  keep_digests(params.tenant.values);
  for (const core::ParamGroup& g : params.groups) keep_digests(g.layer.values);
  for (const auto& [id, layer] : params.merchants) keep_digests(layer.values);
  for (const auto& [id, layer] : params.terminals) keep_digests(layer.values);
  std::string out;
  doc.SerializeToString(&out);
  return out;
}

absl::StatusOr<core::TenantParams> DecodeConfigDocument(const std::string& bytes,
                                                        const std::string& tenant_id) {
  v1::ConfigDocument doc;
  if (!doc.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("configuration of tenant ", tenant_id, ": unreadable"));
  }
  core::TenantParams params;
  for (const v1::ParamSpec& s : doc.specs()) {
    ASSIGN_OR_RETURN(ParamSpec spec, FromProto(s));
    params.schema.emplace(spec.key, std::move(spec));
  }
  params.tenant = core::ParamLayer{core::LayerKind::kTenant, tenant_id, "", 0, {}};
  CopyValues(doc.tenant_values(), params.tenant.values);
  for (const v1::ConfigDocument::Group& g : doc.groups()) {
    core::ParamGroup group;
    group.selector_text = g.group().selector();
    absl::StatusOr<core::LabelSelector> selector = core::ParseLabelSelector(group.selector_text);
    if (!selector.ok()) {
      return absl::DataLossError(absl::StrCat("configuration of tenant ", tenant_id, ": group ",
                                              g.group().name(), ": ", selector.status().message()));
    }
    group.selector = *std::move(selector);
    group.layer = core::ParamLayer{
        core::LayerKind::kGroup, g.group().name(), g.group().name(), g.group().priority(), {}};
    CopyValues(g.values(), group.layer.values);
    params.groups.push_back(std::move(group));
  }
  for (const auto& [id, layer] : doc.merchants()) {
    core::ParamLayer l{core::LayerKind::kMerchant, id, "", 0, {}};
    CopyValues(layer.values(), l.values);
    params.merchants.emplace(id, std::move(l));
  }
  for (const auto& [id, layer] : doc.terminals()) {
    core::ParamLayer l{core::LayerKind::kTerminal, id, "", 0, {}};
    CopyValues(layer.values(), l.values);
    params.terminals.emplace(id, std::move(l));
  }
  params.hash_key_sealed = doc.hash_key();
  CopyValues(doc.secret_digests(), params.secret_digests);
  return params;
}

absl::StatusOr<int64_t> ResealConfigDocument(std::string* bytes, const core::ResealFn& reseal) {
  v1::ConfigDocument doc;
  if (!doc.ParseFromString(*bytes))
    return absl::DataLossError("configuration document: unreadable");
  int64_t changed = 0;  // secret values (the hash key is not counted as one)
  bool key_changed = false;
  // A secret's digest stays what it was (it is of the clear value): only its key, the sealed
  // text, changes.
  google::protobuf::Map<std::string, std::string> digests;
  auto pass = [&](google::protobuf::Map<std::string, std::string>& values) -> absl::Status {
    for (auto& [key, value] : values) {
      if (!IsSealed(value)) continue;
      absl::StatusOr<std::string> resealed = reseal(value);
      if (!resealed.ok()) {
        return absl::Status(resealed.status().code(),
                            absl::StrCat(key, ": ", resealed.status().message()));
      }
      auto digest = doc.secret_digests().find(value);
      if (digest != doc.secret_digests().end()) digests[*resealed] = digest->second;
      if (*resealed != value) {
        value = *std::move(resealed);
        ++changed;
      }
    }
    return absl::OkStatus();
  };
  if (!doc.hash_key().empty()) {
    absl::StatusOr<std::string> key = reseal(doc.hash_key());
    if (!key.ok()) {
      return absl::Status(key.status().code(), absl::StrCat("hash key: ", key.status().message()));
    }
    if (*key != doc.hash_key()) {
      doc.set_hash_key(*std::move(key));
      key_changed = true;
    }
  }
  RETURN_IF_ERROR(pass(*doc.mutable_tenant_values()));
  for (v1::ConfigDocument::Group& g : *doc.mutable_groups())
    RETURN_IF_ERROR(pass(*g.mutable_values()));
  for (auto& [id, layer] : *doc.mutable_merchants()) RETURN_IF_ERROR(pass(*layer.mutable_values()));
  for (auto& [id, layer] : *doc.mutable_terminals()) RETURN_IF_ERROR(pass(*layer.mutable_values()));
  *doc.mutable_secret_digests() = std::move(digests);
  if (changed > 0 || key_changed) doc.SerializeToString(bytes);
  return changed;
}

}  // namespace posfleet::store

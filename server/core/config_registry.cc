#include "server/core/config_registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/param_set_hash.h"
#include "common/status_macros.h"
#include "re2/re2.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

constexpr size_t kMaxSummaryItems = 10;
constexpr size_t kMaxOffendersListed = 50;

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

// "terminal trm_1", "group north", "merchant mer_1", "tenant"
std::string LayerName(LayerKind kind, absl::string_view id) {
  if (kind == LayerKind::kTenant) return "tenant";
  return absl::StrCat(LayerKindName(kind), " ", id);
}

// Every layer of a configuration, for the checks that go over all stored values.
std::vector<ParamLayer*> AllLayers(TenantParams& p) {
  std::vector<ParamLayer*> out = {&p.tenant};
  for (ParamGroup& g : p.groups) out.push_back(&g.layer);
  for (auto& [id, l] : p.merchants) out.push_back(&l);
  for (auto& [id, l] : p.terminals) out.push_back(&l);
  return out;
}

// The layer a value change edits, created if absent. NotFound for an unknown group.
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

// Layers without values are not kept.
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

EffectiveParams Masked(const ParamSchema& schema, EffectiveParams params) {
  for (auto& [key, p] : params) {
    if (IsSecret(schema, key)) p.value = std::string(kSecretShown);
  }
  return params;
}

}  // namespace

absl::StatusOr<Scope> ConfigRegistry::TenantScope(const Actor& actor, absl::string_view tenant_id) {
  if (actor.global() && tenant_id.empty()) {
    return absl::InvalidArgumentError("tenant_id: is required for a global token");
  }
  if (!tenant_id.empty()) RETURN_IF_ERROR(ValidateId("tenant_id", tenant_id, "ten"));
  return ResolveScope(actor, tenant_id);
}

absl::StatusOr<std::string> ConfigRegistry::Stored(TenantParams& p, const ParamLayer& layer,
                                                   const ParamSpec& spec,
                                                   absl::string_view text) const {
  ASSIGN_OR_RETURN(std::string canonical, CanonicalValue(spec, text));
  if (!spec.secret) return canonical;
  if (box_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        spec.key, ": is secret, and this server has no key to seal it (--params-key-file)"));
  }
  auto current = layer.values.find(spec.key);
  if (current != layer.values.end() && p.secret_digests.count(current->second) > 0) {
    absl::StatusOr<std::string> plain = box_->Open(current->second);
    if (plain.ok() && *plain == canonical) return current->second;
  }
  return SealSecret(p, canonical);
}

absl::Status ConfigRegistry::AddMissingDigests(TenantParams& p) const {
  if (box_ == nullptr) return absl::OkStatus();
  std::vector<std::string> missing;
  for (ParamLayer* layer : AllLayers(p)) {
    for (const auto& [key, value] : layer->values) {
      if (IsSealed(value) && p.secret_digests.count(value) == 0) missing.push_back(value);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  if (p.hash_key_sealed.empty()) p.hash_key_sealed = box_->Seal(NewHashKey());
  ASSIGN_OR_RETURN(std::string hash_key, box_->Open(p.hash_key_sealed));
  for (const std::string& sealed : missing) {
    ASSIGN_OR_RETURN(std::string plain, box_->Open(sealed));
    p.secret_digests[sealed] = SecretDigest(hash_key, plain);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ConfigRegistry::SealSecret(TenantParams& p,
                                                       absl::string_view value) const {
  if (p.hash_key_sealed.empty()) p.hash_key_sealed = box_->Seal(NewHashKey());
  ASSIGN_OR_RETURN(std::string hash_key, box_->Open(p.hash_key_sealed));
  std::string sealed = box_->Seal(value);
  p.secret_digests[sealed] = SecretDigest(hash_key, value);
  return sealed;
}

absl::StatusOr<ChangeResult> ConfigRegistry::Commit(const Actor& actor, const AuditEntry& audit,
                                                    absl::string_view tenant_id,
                                                    const ChangeOptions& options,
                                                    const ConfigChange& change) {
  RETURN_IF_ERROR(CheckOptions(options));
  ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
  // The committed entry names the tenant the change went to (the request may leave it out), and
  // lands in that tenant's log. A refusal stays in the caller's (BeginAudit): no request field
  // chooses where an audit row lands.
  AuditEntry committed = audit;
  committed.target_id = scope.tenant_id;
  committed.tenant_id = scope.tenant_id;
  ConfigChange with_message = [&](TenantParams& p,
                                  ConfigRevision& meta) -> absl::StatusOr<std::string> {
    meta.message = options.message;
    if (options.if_revision != 0 && meta.revision != options.if_revision + 1) {
      return absl::AbortedError(absl::StrCat(
          "the configuration is at revision ", meta.revision - 1, ", not ", options.if_revision,
          ": it changed since; look at revision ", meta.revision - 1, " and try again"));
    }
    ASSIGN_OR_RETURN(std::string summary, change(p, meta));
    RETURN_IF_ERROR(AddMissingDigests(p));
    return summary;
  };
  ASSIGN_OR_RETURN(ConfigCommit commit,
                   store_.CommitConfig(scope, scope.tenant_id, with_message, options.dry_run,
                                       options.sample, committed));
  ChangeResult result;
  result.dry_run = options.dry_run;
  result.meta = commit.meta;
  result.terminals_changed = commit.terminals_changed;
  result.sample =
      PreviewChange(commit.before, commit.after, commit.sample, commit.sample.size()).sample;
  return result;
}

absl::StatusOr<ConfigHead> ConfigRegistry::Layers(const Actor& actor, absl::string_view tenant_id,
                                                  Method method) {
  RETURN_IF_ERROR(Authorize(actor, method));
  ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
  ASSIGN_OR_RETURN(ConfigHead head, store_.LoadConfig(scope, scope.tenant_id, 0));
  for (ParamLayer* layer : AllLayers(head.params)) {
    for (auto& [key, value] : layer->values) {
      if (IsSecret(head.params.schema, key)) value = std::string(kSecretShown);
    }
  }
  return head;
}

absl::StatusOr<ChangeResult> ConfigRegistry::UpdateSchema(const Actor& actor,
                                                          absl::string_view tenant_id,
                                                          const SchemaChange& edit,
                                                          const ChangeOptions& options) {
  const std::vector<ParamSpec>& upsert = edit.upsert;
  const std::vector<std::string>& remove = edit.remove;
  AuditEntry audit = BeginAudit(actor, Method::kUpdateConfigSchema, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kUpdateConfigSchema));
    if (upsert.empty() && remove.empty() && edit.rename.empty()) {
      return absl::InvalidArgumentError(
          "nothing to change: give specs to add, keys to remove or keys to rename");
    }
    std::set<std::string> seen;
    for (const ParamSpec& spec : upsert) {
      RETURN_IF_ERROR(ValidateParamSpec(spec));
      if (!seen.insert(spec.key).second) {
        return absl::InvalidArgumentError(absl::StrCat(spec.key, ": given twice"));
      }
    }
    for (const std::string& key : remove) {
      RETURN_IF_ERROR(ValidateParamKey(key));
      if (!seen.insert(key).second) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": given twice"));
      }
    }
    for (const auto& [from, to] : edit.rename) {
      RETURN_IF_ERROR(ValidateParamKey(from));
      RETURN_IF_ERROR(ValidateParamKey(to));
      for (const std::string& key : {from, to}) {
        if (!seen.insert(key).second) {
          return absl::InvalidArgumentError(absl::StrCat(key, ": given twice"));
        }
      }
    }
    return Commit(
        actor, audit, tenant_id, options,
        [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
          std::vector<std::string> added, replaced, removed, renamed;
          for (const auto& [from, to] : edit.rename) {
            auto spec = p.schema.find(from);
            if (spec == p.schema.end()) {
              return absl::NotFoundError(absl::StrCat(from, ": not in the schema"));
            }
            if (p.schema.count(to) > 0) {
              return absl::AlreadyExistsError(absl::StrCat(
                  to, ": already in the schema; remove it first or pick another name"));
            }
            ParamSpec moved = spec->second;
            moved.key = to;
            p.schema.erase(spec);
            p.schema.emplace(to, std::move(moved));
            for (ParamLayer* layer : AllLayers(p)) {
              auto value = layer->values.find(from);
              if (value == layer->values.end()) continue;
              std::string text = std::move(value->second);
              layer->values.erase(value);
              layer->values.emplace(to, std::move(text));
            }
            renamed.push_back(absl::StrCat(from, " -> ", to));
          }
          for (const std::string& key : remove) {
            if (p.schema.erase(key) == 0) {
              return absl::NotFoundError(absl::StrCat(key, ": not in the schema"));
            }
            removed.push_back(key);
          }
          const ParamSchema old_schema = p.schema;
          for (const ParamSpec& spec : upsert) {
            auto before = old_schema.find(spec.key);
            if (before == old_schema.end()) {
              added.push_back(spec.key);
            } else {
              std::vector<std::string> what = SpecChanges(before->second, spec);
              replaced.push_back(absl::StrCat(
                  spec.key, " (",
                  what.empty() ? std::string("unchanged") : absl::StrJoin(what, ", "), ")"));
            }
            p.schema.insert_or_assign(spec.key, spec);
          }
          if (p.schema.size() > kMaxSchemaKeys) {
            return absl::InvalidArgumentError(
                absl::StrCat("schema: at most ", kMaxSchemaKeys, " keys"));
          }
          // Every stored value must fit its (new) spec; values that only change their canonical
          // form ("5" as a decimal) are rewritten.
          std::vector<std::string> offenders;
          for (ParamLayer* layer : AllLayers(p)) {
            for (auto& [key, value] : layer->values) {
              const std::string where = LayerName(layer->kind, layer->id);
              auto spec = p.schema.find(key);
              if (spec == p.schema.end()) {
                offenders.push_back(
                    absl::StrCat(key, " on ", where, ": set, but removed from the schema"));
                continue;
              }
              const bool was_secret = IsSealed(value);
              if (was_secret != spec->second.secret) {
                offenders.push_back(
                    absl::StrCat(key, " on ", where, ": set, and a value cannot move ",
                                 was_secret ? "out of" : "into", " secrecy; unset it first"));
                continue;
              }
              std::string plain = value;
              if (was_secret) {
                if (box_ == nullptr) {
                  return absl::FailedPreconditionError(
                      "secret values are stored and this server has no key (--params-key-file)");
                }
                ASSIGN_OR_RETURN(plain, box_->Open(value));
              }
              absl::StatusOr<std::string> canonical = CanonicalValue(spec->second, plain);
              if (!canonical.ok()) {
                offenders.push_back(absl::StrCat(where, ": ", canonical.status().message()));
              } else if (*canonical != plain) {
                if (was_secret) {
                  ASSIGN_OR_RETURN(value, SealSecret(p, *canonical));
                } else {
                  value = *canonical;
                }
              }
            }
          }
          if (!offenders.empty()) {
            const size_t n = offenders.size();
            if (n > kMaxOffendersListed) offenders.resize(kMaxOffendersListed);
            return absl::FailedPreconditionError(absl::StrCat(
                "schema change refused: ", n, " stored value", n == 1 ? "" : "s",
                " would not be valid:\n  ", absl::StrJoin(offenders, "\n  "),
                n > kMaxOffendersListed ? absl::StrCat("\n  and ", n - kMaxOffendersListed, " more")
                                        : ""));
          }
          std::vector<std::string> parts;
          if (!added.empty()) parts.push_back(absl::StrCat("schema: added ", JoinLimited(added)));
          if (!replaced.empty())
            parts.push_back(absl::StrCat("schema: changed ", JoinLimited(replaced)));
          if (!removed.empty())
            parts.push_back(absl::StrCat("schema: removed ", JoinLimited(removed)));
          if (!renamed.empty())
            parts.push_back(absl::StrCat("schema: renamed ", JoinLimited(renamed)));
          return absl::StrJoin(parts, "; ");
        });
  });
}

absl::StatusOr<ChangeResult> ConfigRegistry::SetGroup(const Actor& actor,
                                                      absl::string_view tenant_id,
                                                      absl::string_view name,
                                                      absl::string_view selector, int priority,
                                                      const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kSetConfigGroup, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kSetConfigGroup));
    RETURN_IF_ERROR(ValidateGroupName(name));
    ASSIGN_OR_RETURN(LabelSelector parsed, ParseLabelSelector(selector));
    if (parsed.empty()) {
      return absl::InvalidArgumentError(
          "selector: is required (a group for every terminal is the tenant layer)");
    }
    return Commit(
        actor, audit, tenant_id, options,
        [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
          ParamGroup* group = nullptr;
          for (ParamGroup& g : p.groups) {
            if (g.layer.id == name) group = &g;
          }
          const bool created = group == nullptr;
          if (created) {
            p.groups.push_back(ParamGroup{});
            group = &p.groups.back();
            group->layer =
                ParamLayer{LayerKind::kGroup, std::string(name), std::string(name), 0, {}};
          }
          group->selector_text = std::string(selector);
          group->selector = parsed;
          group->layer.priority = priority;
          std::vector<GroupPriority> priorities;
          for (const ParamGroup& g : p.groups) {
            priorities.push_back(GroupPriority{g.layer.id, g.layer.name, g.layer.priority});
          }
          RETURN_IF_ERROR(CheckGroupPriorities(priorities));
          return absl::StrCat(created ? "created" : "changed", " group ", name, " selector \"",
                              selector, "\" priority ", priority);
        });
  });
}

absl::StatusOr<ChangeResult> ConfigRegistry::DeleteGroup(const Actor& actor,
                                                         absl::string_view tenant_id,
                                                         absl::string_view name,
                                                         const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kDeleteConfigGroup, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kDeleteConfigGroup));
    RETURN_IF_ERROR(ValidateGroupName(name));
    return Commit(actor, audit, tenant_id, options,
                  [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
                    auto it = std::find_if(p.groups.begin(), p.groups.end(),
                                           [&](const ParamGroup& g) { return g.layer.id == name; });
                    if (it == p.groups.end())
                      return absl::NotFoundError(absl::StrCat("group ", name, " not found"));
                    const size_t values = it->layer.values.size();
                    p.groups.erase(it);
                    return absl::StrCat("deleted group ", name, " with its ", values, " values");
                  });
  });
}

absl::StatusOr<ChangeResult> ConfigRegistry::SetValues(const Actor& actor,
                                                       absl::string_view tenant_id,
                                                       const ValueChange& change,
                                                       const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kSetConfigValues, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kSetConfigValues));
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
    // The tenant of a merchant or terminal layer is the object's own.
    std::string tenant(tenant_id);
    switch (change.kind) {
      case LayerKind::kTenant:
        if (!change.id.empty() && change.id != tenant_id) {
          return absl::InvalidArgumentError("id: the tenant layer takes no id (or the tenant's)");
        }
        break;
      case LayerKind::kGroup:
        RETURN_IF_ERROR(ValidateGroupName(change.id));
        break;
      case LayerKind::kMerchant: {
        RETURN_IF_ERROR(ValidateId("id", change.id, "mer"));
        ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
        ASSIGN_OR_RETURN(Merchant m, org_.GetMerchant(scope, change.id));
        tenant = m.tenant_id;
        break;
      }
      case LayerKind::kTerminal: {
        RETURN_IF_ERROR(ValidateId("id", change.id, "trm"));
        ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
        ASSIGN_OR_RETURN(Terminal t, terminals_.GetTerminal(scope, change.id));
        tenant = t.tenant_id;
        break;
      }
      case LayerKind::kDefault:
        return absl::InvalidArgumentError(
            "kind: give tenant, group, merchant or terminal (defaults are part of the schema)");
    }
    return Commit(
        actor, audit, tenant, options,
        [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
          ASSIGN_OR_RETURN(ParamLayer * layer, LayerOf(p, change.kind, change.id));
          std::vector<std::string> set, unset;
          for (const auto& [key, text] : change.set) {
            auto spec = p.schema.find(key);
            if (spec == p.schema.end()) {
              return absl::NotFoundError(
                  absl::StrCat(key, ": not in the schema (add it with config schema set)"));
            }
            ASSIGN_OR_RETURN(std::string stored, Stored(p, *layer, spec->second, text));
            layer->values[key] = stored;
            set.push_back(
                absl::StrCat(key, "=", Quoted(spec->second, spec->second.secret ? "" : stored)));
          }
          // List edits apply to the value as it is now, under the tenant's lock: two made at
          // once both land.
          std::set<std::string> edited;
          for (const auto& [key, items] : change.add) edited.insert(key);
          for (const auto& [key, items] : change.remove) edited.insert(key);
          for (const std::string& key : edited) {
            auto spec = p.schema.find(key);
            if (spec == p.schema.end()) {
              return absl::NotFoundError(
                  absl::StrCat(key, ": not in the schema (add it with config schema set)"));
            }
            auto current = layer->values.find(key);
            const std::string from = current != layer->values.end()
                                         ? current->second
                                         : spec->second.default_value.value_or("");
            auto add = change.add.find(key);
            auto remove = change.remove.find(key);
            ASSIGN_OR_RETURN(
                std::string value,
                EditList(spec->second, from, add != change.add.end() ? add->second : "",
                         remove != change.remove.end() ? remove->second : ""));
            layer->values[key] = value;
            set.push_back(absl::StrCat(key, "=", Quoted(spec->second, value)));
          }
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
          if (!unset.empty())
            absl::StrAppend(&summary, set.empty() ? "" : ";", " unset ", JoinLimited(unset));
          return summary;
        });
  });
}

absl::StatusOr<Page<ConfigRevision>> ConfigRegistry::Revisions(const Actor& actor,
                                                               absl::string_view tenant_id,
                                                               int page_size,
                                                               absl::string_view page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListConfigRevisions));
  ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
  return FetchPage<ConfigRevision>(
      absl::StrCat("config-revisions|", scope.tenant_id), page_size, page_token,
      [&](const Window& w) { return store_.ListConfigRevisions(scope, scope.tenant_id, w); });
}

absl::StatusOr<ChangeResult> ConfigRegistry::Restore(const Actor& actor,
                                                     absl::string_view tenant_id, int64_t revision,
                                                     const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kRestoreConfigRevision, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kRestoreConfigRevision));
    if (revision <= 0) return absl::InvalidArgumentError("revision: must be positive");
    ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
    ASSIGN_OR_RETURN(ConfigHead old, store_.LoadConfig(scope, scope.tenant_id, revision));
    return Commit(actor, audit, tenant_id, options,
                  [&](TenantParams& p, ConfigRevision& meta) -> absl::StatusOr<std::string> {
                    // One hash key per tenant, whatever the revision: the digests of the
                    // restored secrets were made under it too.
                    std::string hash_key = std::move(p.hash_key_sealed);
                    p = old.params;
                    if (!hash_key.empty()) p.hash_key_sealed = std::move(hash_key);
                    meta.restored_from = revision;
                    return absl::StrCat("restored revision ", revision);
                  });
  });
}

absl::StatusOr<RevisionDiff> ConfigRegistry::Diff(const Actor& actor, absl::string_view tenant_id,
                                                  int64_t revision, int64_t base) {
  RETURN_IF_ERROR(Authorize(actor, Method::kDiffConfigRevisions));
  if (revision < 0 || base < 0) return absl::InvalidArgumentError("revision: out of range");
  ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
  ASSIGN_OR_RETURN(ConfigHead head, store_.LoadConfig(scope, scope.tenant_id, revision));
  if (head.meta.revision == 0) {
    return absl::NotFoundError("no revision yet: nothing was ever configured");
  }
  RevisionDiff out;
  out.revision = head.meta.revision;
  out.base = base != 0 ? base : head.meta.revision - 1;
  ConfigHead older;  // before revision 1: nothing
  if (out.base != 0) {
    ASSIGN_OR_RETURN(older, store_.LoadConfig(scope, scope.tenant_id, out.base));
  }
  out.edits = DiffParams(older.params, head.params);
  return out;
}

absl::StatusOr<EffectiveConfig> ConfigRegistry::Effective(const Actor& actor,
                                                          absl::string_view terminal_id) {
  RETURN_IF_ERROR(Authorize(actor, Method::kGetEffectiveConfig));
  RETURN_IF_ERROR(ValidateId("terminal_id", terminal_id, "trm"));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  ASSIGN_OR_RETURN(Terminal t, terminals_.GetTerminal(scope, terminal_id));
  ASSIGN_OR_RETURN(ConfigHead head, store_.LoadConfig(scope, t.tenant_id, 0));
  const ParamTarget target = TargetOf(t);
  EffectiveParams params = Resolve(head.params.schema, LayersFor(head.params, target));
  EffectiveConfig out;
  out.meta = head.meta;
  out.hash = ParamsHash(head.params, params);
  out.params = Masked(head.params.schema, std::move(params));
  absl::StatusOr<TerminalConfigStatus> status = store_.GetTerminalConfig(scope, terminal_id);
  if (status.ok()) {
    out.status = *std::move(status);
    // The stored desired set is recomputed after a relabel or a move to another merchant only
    // by the refresh pass; until then the set the terminal should have is the one resolved now,
    // and a report of the old one is not "in sync".
    if (out.status->desired_hash != out.hash) {
      out.status->state = SyncState::kPending;
      out.status->reason =
          "recompute due: its labels or merchant changed since its set was computed (the server "
          "recomputes and publishes within its --config-refresh interval)";
    } else if (out.status->state == SyncState::kPending && out.status->reported_hash == out.hash) {
      // Changed since it was computed (the store says "recompute due"), but to the same set (a
      // label no group selects on): it already runs what it should.
      out.status->state = SyncState::kInSync;
      out.status->reason.clear();
    }
  } else if (!absl::IsNotFound(status.status())) {
    return status.status();
  }
  return out;
}

absl::StatusOr<Explanation> ConfigRegistry::Explain(const Actor& actor,
                                                    absl::string_view terminal_id,
                                                    absl::string_view key) {
  RETURN_IF_ERROR(Authorize(actor, Method::kExplainConfig));
  RETURN_IF_ERROR(ValidateId("terminal_id", terminal_id, "trm"));
  if (!key.empty()) RETURN_IF_ERROR(ValidateParamKey(key));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  ASSIGN_OR_RETURN(Terminal t, terminals_.GetTerminal(scope, terminal_id));
  ASSIGN_OR_RETURN(ConfigHead head, store_.LoadConfig(scope, t.tenant_id, 0));
  if (!key.empty() && head.params.schema.count(key) == 0) {
    return absl::NotFoundError(absl::StrCat(key, ": not in the schema"));
  }
  const std::vector<const ParamLayer*> layers = LayersFor(head.params, TargetOf(t));
  Explanation out;
  out.meta = head.meta;
  for (const auto& [k, spec] : head.params.schema) {
    if (!key.empty() && k != key) continue;
    std::vector<ExplainStep> steps = core::Explain(head.params.schema, layers, k);
    if (steps.empty() && key.empty()) continue;
    out.keys.push_back(ExplainedKey{k, std::move(steps)});
  }
  return out;
}

absl::StatusOr<DriftPage> ConfigRegistry::Drift(const Actor& actor, absl::string_view tenant_id,
                                                std::optional<SyncState> state, int page_size,
                                                absl::string_view page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListConfigDrift));
  ASSIGN_OR_RETURN(Scope scope, TenantScope(actor, tenant_id));
  DriftPage out;
  ASSIGN_OR_RETURN(out.page, FetchPage<TerminalConfigStatus>(
                                 absl::StrCat("config-drift|", scope.tenant_id, "|",
                                              state ? static_cast<int>(*state) : -1),
                                 page_size, page_token, [&](const Window& w) {
                                   return store_.ListConfigDrift(scope, scope.tenant_id, state, w);
                                 }));
  ASSIGN_OR_RETURN(out.counts, store_.CountConfigSync(scope, scope.tenant_id));
  return out;
}

}  // namespace posfleet::core

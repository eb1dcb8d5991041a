#include "server/core/config_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/param_set_hash.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/config_edits.h"
#include "server/core/paging.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

using config_edits::AllLayers;
using config_edits::CheckOptions;
using config_edits::MaybeAudited;
using config_edits::ValidateGroupName;

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

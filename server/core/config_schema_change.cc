// ConfigRegistry::UpdateSchema: specs renamed, removed, added or replaced, and every stored value
// refitted to its new spec or the change refused with each offender named.

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/core/config_edits.h"
#include "server/core/config_registry.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

using config_edits::AllLayers;
using config_edits::JoinLimited;
using config_edits::kMaxOffendersListed;
using config_edits::LayerName;
using config_edits::MaybeAudited;

// Every key well formed, and named once across the whole edit.
absl::Status CheckSchemaChange(const SchemaChange& edit) {
  if (edit.upsert.empty() && edit.remove.empty() && edit.rename.empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give specs to add, keys to remove or keys to rename");
  }
  std::set<std::string> seen;
  auto once = [&](const std::string& key) -> absl::Status {
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": given twice"));
    }
    return absl::OkStatus();
  };
  for (const ParamSpec& spec : edit.upsert) {
    RETURN_IF_ERROR(ValidateParamSpec(spec));
    RETURN_IF_ERROR(once(spec.key));
  }
  for (const std::string& key : edit.remove) {
    RETURN_IF_ERROR(ValidateParamKey(key));
    RETURN_IF_ERROR(once(key));
  }
  for (const auto& [from, to] : edit.rename) {
    RETURN_IF_ERROR(ValidateParamKey(from));
    RETURN_IF_ERROR(ValidateParamKey(to));
    RETURN_IF_ERROR(once(from));
    RETURN_IF_ERROR(once(to));
  }
  return absl::OkStatus();
}

// What a schema change did, for the revision's summary.
struct SchemaSummary {
  std::vector<std::string> added, replaced, removed, renamed;

  std::string Text() const {
    std::vector<std::string> parts;
    if (!added.empty()) parts.push_back(absl::StrCat("schema: added ", JoinLimited(added)));
    if (!replaced.empty()) parts.push_back(absl::StrCat("schema: changed ", JoinLimited(replaced)));
    if (!removed.empty()) parts.push_back(absl::StrCat("schema: removed ", JoinLimited(removed)));
    if (!renamed.empty()) parts.push_back(absl::StrCat("schema: renamed ", JoinLimited(renamed)));
    return absl::StrJoin(parts, "; ");
  }
};

// Moves each renamed spec and its values on every layer to the new name (secrets stay sealed).
absl::Status RenameSpecs(TenantParams& p, const SchemaChange& edit, SchemaSummary& summary) {
  for (const auto& [from, to] : edit.rename) {
    auto spec = p.schema.find(from);
    if (spec == p.schema.end()) {
      return absl::NotFoundError(absl::StrCat(from, ": not in the schema"));
    }
    if (p.schema.count(to) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat(to, ": already in the schema; remove it first or pick another name"));
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
    summary.renamed.push_back(absl::StrCat(from, " -> ", to));
  }
  return absl::OkStatus();
}

// Removes, then adds or replaces specs; the summary says what each replaced spec lost or gained.
absl::Status ReplaceSpecs(TenantParams& p, const SchemaChange& edit, SchemaSummary& summary) {
  for (const std::string& key : edit.remove) {
    if (p.schema.erase(key) == 0) {
      return absl::NotFoundError(absl::StrCat(key, ": not in the schema"));
    }
    summary.removed.push_back(key);
  }
  const ParamSchema old_schema = p.schema;
  for (const ParamSpec& spec : edit.upsert) {
    auto before = old_schema.find(spec.key);
    if (before == old_schema.end()) {
      summary.added.push_back(spec.key);
    } else {
      std::vector<std::string> what = SpecChanges(before->second, spec);
      summary.replaced.push_back(
          absl::StrCat(spec.key, " (",
                       what.empty() ? std::string("unchanged") : absl::StrJoin(what, ", "), ")"));
    }
    p.schema.insert_or_assign(spec.key, spec);
  }
  if (p.schema.size() > kMaxSchemaKeys) {
    return absl::InvalidArgumentError(absl::StrCat("schema: at most ", kMaxSchemaKeys, " keys"));
  }
  return absl::OkStatus();
}

absl::Status Offenders(std::vector<std::string> offenders) {
  if (offenders.empty()) return absl::OkStatus();
  const size_t n = offenders.size();
  if (n > kMaxOffendersListed) offenders.resize(kMaxOffendersListed);
  return absl::FailedPreconditionError(absl::StrCat(
      "schema change refused: ", n, " stored value", n == 1 ? "" : "s", " would not be valid:\n  ",
      absl::StrJoin(offenders, "\n  "),
      n > kMaxOffendersListed ? absl::StrCat("\n  and ", n - kMaxOffendersListed, " more") : ""));
}

}  // namespace

absl::Status ConfigRegistry::RefitValues(TenantParams& p) const {
  // Every stored value must fit its (new) spec; values that only change their canonical form
  // ("5" as a decimal) are rewritten.
  std::vector<std::string> offenders;
  for (ParamLayer* layer : AllLayers(p)) {
    for (auto& [key, value] : layer->values) {
      const std::string where = LayerName(layer->kind, layer->id);
      auto spec = p.schema.find(key);
      if (spec == p.schema.end()) {
        offenders.push_back(absl::StrCat(key, " on ", where, ": set, but removed from the schema"));
        continue;
      }
      const bool was_secret = IsSealed(value);
      if (was_secret != spec->second.secret) {
        offenders.push_back(absl::StrCat(key, " on ", where, ": set, and a value cannot move ",
                                         was_secret ? "out of" : "into",
                                         " secrecy; unset it first"));
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
  return Offenders(std::move(offenders));
}

absl::StatusOr<ChangeResult> ConfigRegistry::UpdateSchema(const Actor& actor,
                                                          absl::string_view tenant_id,
                                                          const SchemaChange& edit,
                                                          const ChangeOptions& options) {
  AuditEntry audit = BeginAudit(actor, Method::kUpdateConfigSchema, "config", tenant_id);
  return MaybeAudited(audit_, audit, options.dry_run, [&]() -> absl::StatusOr<ChangeResult> {
    RETURN_IF_ERROR(Authorize(actor, Method::kUpdateConfigSchema));
    RETURN_IF_ERROR(CheckSchemaChange(edit));
    return Commit(actor, audit, tenant_id, options,
                  [&](TenantParams& p, ConfigRevision&) -> absl::StatusOr<std::string> {
                    SchemaSummary summary;
                    RETURN_IF_ERROR(RenameSpecs(p, edit, summary));
                    RETURN_IF_ERROR(ReplaceSpecs(p, edit, summary));
                    RETURN_IF_ERROR(RefitValues(p));
                    return summary.Text();
                  });
  });
}

}  // namespace posfleet::core

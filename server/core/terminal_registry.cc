#include "server/core/terminal_registry.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {
namespace {

Terminal FromSpec(const TerminalSpec& spec) {
  Terminal t;
  t.id = NewId("trm");
  t.merchant_id = spec.merchant_id;
  t.vendor = spec.vendor;
  t.model = spec.model;
  t.serial = spec.serial;
  t.tid = spec.tid;
  t.labels = spec.labels;
  t.state = TerminalState::kProvisioned;
  return t;
}

std::string DescribeNew(const Terminal& t) {
  return absl::StrCat("created ", t.vendor, "/", t.model, " serial ", t.serial, " for merchant ",
                      t.merchant_id, t.tid.empty() ? "" : absl::StrCat(" tid ", t.tid),
                      t.labels.empty() ? "" : " labels ",
                      absl::StrJoin(t.labels, ",", absl::PairFormatter("=")));
}

// "component=version" or "component!=version"; both sides short plain text as the link accepts.
absl::StatusOr<SoftwareMatch> ParseSoftwareMatch(absl::string_view text) {
  SoftwareMatch m;
  size_t eq = text.find("!=");
  size_t value_at = eq + 2;
  if (eq == absl::string_view::npos) {
    eq = text.find('=');
    value_at = eq + 1;
  } else {
    m.negate = true;
  }
  if (eq == absl::string_view::npos || eq == 0 || value_at >= text.size()) {
    return absl::InvalidArgumentError(
        "software: expected component=version or component!=version, e.g. payment-app=2.4.0");
  }
  m.component = std::string(text.substr(0, eq));
  m.version = std::string(text.substr(value_at));
  for (const std::string* part : {&m.component, &m.version}) {
    if (part->size() > 64 || absl::StrContains(*part, '=') || absl::StrContains(*part, '!')) {
      return absl::InvalidArgumentError(
          "software: component and version are at most 64 characters without '=' or '!'");
    }
    for (char c : *part) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError("software: printable characters without spaces only");
      }
    }
  }
  return m;
}

// The canonical text of a query's filters, which page tokens are bound to.
std::string FilterKey(const TerminalFilter& f) {
  std::string key = absl::StrCat(
      "terminals|", f.scope.tenant_id, "|", f.merchant_id, "|", f.state ? StateName(*f.state) : "",
      "|", f.online ? (*f.online ? "on" : "off") : "", "|", absl::ToInt64Seconds(f.offline_for),
      "|", f.battery_below, "|", f.paper, "|");
  if (f.software) {
    absl::StrAppend(&key, f.software->component, f.software->negate ? "!=" : "=",
                    f.software->version, "|");
  }
  for (const LabelRequirement& r : f.selector) {
    absl::StrAppend(&key, r.key, " ", OpName(r.op), " ", absl::StrJoin(r.values, ","), ";");
  }
  return key;
}

Method MethodFor(LifecycleAction action) {
  switch (action) {
    case LifecycleAction::kSuspend:
      return Method::kSuspendTerminal;
    case LifecycleAction::kReactivate:
      return Method::kReactivateTerminal;
    case LifecycleAction::kRetire:
      return Method::kRetireTerminal;
    case LifecycleAction::kActivate:
      break;
  }
  // Activation happens through enrollment, never through a direct API call.
  return Method::kUpdateTerminal;
}

}  // namespace

absl::StatusOr<Terminal> TerminalRegistry::Create(const Actor& actor, const TerminalSpec& spec) {
  Terminal t = FromSpec(spec);
  AuditEntry audit = BeginAudit(actor, Method::kCreateTerminal, "terminal", t.id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Terminal> {
    RETURN_IF_ERROR(Authorize(actor, Method::kCreateTerminal));
    if (auto error = CheckTerminalSpec(spec)) return ToStatus(*error, "terminal.");
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    AuditEntry committed = audit;
    committed.summary = DescribeNew(t);
    return store_.CreateTerminal(scope, t, committed);
  });
}

absl::StatusOr<BatchOutcome> TerminalRegistry::CreateBatch(const Actor& actor,
                                                           const std::vector<TerminalSpec>& specs,
                                                           bool all_or_nothing) {
  AuditEntry audit = BeginAudit(actor, Method::kBatchCreateTerminals, "terminal", "");
  return Audited(audit_, audit, [&]() -> absl::StatusOr<BatchOutcome> {
    RETURN_IF_ERROR(Authorize(actor, Method::kBatchCreateTerminals));
    if (specs.empty()) return absl::InvalidArgumentError("terminals: at least one is required");
    if (specs.size() > static_cast<size_t>(kMaxBatch)) {
      return absl::InvalidArgumentError(
          absl::StrCat("terminals: at most ", kMaxBatch, " per call; split the import"));
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));

    BatchOutcome out;
    out.results.resize(specs.size());
    std::vector<Terminal> valid;
    std::vector<size_t> valid_index;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (auto error = CheckTerminalSpec(specs[i])) {
        out.results[i] = {BatchItemResult::Outcome::kFailed, "", error->field, error->message};
        continue;
      }
      valid.push_back(FromSpec(specs[i]));
      valid_index.push_back(i);
    }
    const bool any_invalid = valid.size() != specs.size();
    std::vector<BatchItemResult> stored;
    if (!(all_or_nothing && any_invalid) && !valid.empty()) {
      ASSIGN_OR_RETURN(stored, store_.CreateTerminals(scope, valid, all_or_nothing, audit));
    }
    bool store_failed = false;
    for (size_t k = 0; k < stored.size(); ++k) {
      out.results[valid_index[k]] = stored[k];
      store_failed |= stored[k].outcome == BatchItemResult::Outcome::kFailed;
    }
    out.rolled_back = all_or_nothing && (any_invalid || store_failed);
    for (BatchItemResult& r : out.results) {
      if (out.rolled_back && r.outcome != BatchItemResult::Outcome::kFailed) {
        r = {BatchItemResult::Outcome::kFailed, "", "",
             "not created: another row failed and all_or_nothing is set"};
      }
      switch (r.outcome) {
        case BatchItemResult::Outcome::kCreated:
          ++out.created;
          break;
        case BatchItemResult::Outcome::kSkipped:
          ++out.skipped;
          break;
        case BatchItemResult::Outcome::kFailed:
          ++out.failed;
          break;
      }
    }
    return out;
  });
}

absl::StatusOr<Terminal> TerminalRegistry::Get(const Actor& actor, absl::string_view id) {
  RETURN_IF_ERROR(Authorize(actor, Method::kGetTerminal));
  RETURN_IF_ERROR(ValidateId("id", id, "trm"));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  return store_.GetTerminal(scope, id);
}

absl::StatusOr<Page<HealthSample>> TerminalRegistry::History(const Actor& actor,
                                                             absl::string_view id,
                                                             const HistoryQuery& query) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListHealthHistory));
  RETURN_IF_ERROR(ValidateId("id", id, "trm"));
  if (query.start_time && query.end_time && *query.start_time >= *query.end_time) {
    return absl::InvalidArgumentError("start_time: must be before end_time");
  }
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
  auto time_key = [](const std::optional<absl::Time>& t) {
    return t ? absl::StrCat(absl::ToUnixMicros(*t)) : std::string();
  };
  const std::string key = absl::StrCat("history|", scope.tenant_id, "|", id, "|",
                                       time_key(query.start_time), "|", time_key(query.end_time));
  return FetchPage<HealthSample>(key, query.page_size, query.page_token, [&](const Window& w) {
    return presence_.ListHealthHistory(scope, id, query.start_time, query.end_time, w);
  });
}

absl::StatusOr<TerminalFilter> TerminalRegistry::FilterFor(const Actor& actor, Method method,
                                                           const TerminalQuery& query) {
  RETURN_IF_ERROR(Authorize(actor, method));
  TerminalFilter filter;
  ASSIGN_OR_RETURN(filter.scope, ResolveScope(actor, query.tenant_id));
  if (!query.merchant_id.empty()) {
    RETURN_IF_ERROR(ValidateId("merchant_id", query.merchant_id, "mer"));
  }
  filter.merchant_id = query.merchant_id;
  filter.state = query.state;
  ASSIGN_OR_RETURN(filter.selector, ParseLabelSelector(query.label_selector));
  filter.online = query.online;
  if (query.offline_for_seconds < 0 || query.offline_for_seconds > 10LL * 366 * 86400) {
    return absl::InvalidArgumentError("offline_for_seconds: must be between 0 and ten years");
  }
  if (query.offline_for_seconds > 0 && query.online == true) {
    return absl::InvalidArgumentError("offline_for_seconds: contradicts online=true");
  }
  filter.offline_for = absl::Seconds(query.offline_for_seconds);
  if (query.battery_below < 0 || query.battery_below > 100) {
    return absl::InvalidArgumentError("battery_below: must be a percentage from 1 to 100");
  }
  filter.battery_below = query.battery_below;
  if (!query.paper.empty() && query.paper != "ok" && query.paper != "low" && query.paper != "out" &&
      query.paper != "none") {
    return absl::InvalidArgumentError("paper: must be one of ok, low, out, none");
  }
  filter.paper = query.paper;
  if (!query.software.empty()) {
    ASSIGN_OR_RETURN(filter.software, ParseSoftwareMatch(query.software));
  }
  return filter;
}

absl::StatusOr<Page<Terminal>> TerminalRegistry::List(const Actor& actor,
                                                      const TerminalQuery& query) {
  ASSIGN_OR_RETURN(TerminalFilter filter, FilterFor(actor, Method::kListTerminals, query));
  return FetchPage<Terminal>(FilterKey(filter), query.page_size, query.page_token,
                             [&](const Window& w) { return store_.ListTerminals(filter, w); });
}

absl::StatusOr<FleetSummary> TerminalRegistry::Summarize(const Actor& actor,
                                                         const TerminalQuery& query) {
  ASSIGN_OR_RETURN(TerminalFilter filter, FilterFor(actor, Method::kSummarizeFleet, query));
  return store_.SummarizeFleet(filter);
}

absl::StatusOr<Terminal> TerminalRegistry::Update(const Actor& actor, absl::string_view id,
                                                  const TerminalUpdate& update) {
  AuditEntry audit = BeginAudit(actor, Method::kUpdateTerminal, "terminal", id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Terminal> {
    RETURN_IF_ERROR(Authorize(actor, Method::kUpdateTerminal));
    RETURN_IF_ERROR(ValidateId("id", id, "trm"));
    RETURN_IF_ERROR(ValidateLabels("set_labels", update.set_labels));
    for (const std::string& key : update.remove_labels) {
      RETURN_IF_ERROR(ValidateLabelKey("remove_labels", key));
      if (update.set_labels.contains(key)) {
        return absl::InvalidArgumentError(
            absl::StrCat("remove_labels: \"", key, "\" is also in set_labels"));
      }
    }
    if (update.merchant_id) RETURN_IF_ERROR(ValidateId("merchant_id", *update.merchant_id, "mer"));
    if (update.tid) RETURN_IF_ERROR(ValidateTid("tid", *update.tid));
    if (update.set_labels.empty() && update.remove_labels.empty() && !update.merchant_id &&
        !update.tid) {
      return absl::InvalidArgumentError("nothing to update: give labels, merchant_id or tid");
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    Mutation<Terminal> mutate = [&](Terminal& t) -> absl::StatusOr<std::string> {
      if (t.state == TerminalState::kRetired) {
        return absl::FailedPreconditionError(
            absl::StrCat("terminal ", t.id, " is retired and cannot change"));
      }
      std::vector<std::string> changes;
      for (const std::string& key : update.remove_labels) {
        if (t.labels.erase(key) > 0) changes.push_back(absl::StrCat("-", key));
      }
      for (const auto& [key, value] : update.set_labels) {
        auto [it, inserted] = t.labels.insert({key, value});
        if (!inserted && it->second == value) continue;
        it->second = value;
        changes.push_back(absl::StrCat("+", key, "=", value));
      }
      if (t.labels.size() > static_cast<size_t>(kMaxLabels)) {
        return absl::InvalidArgumentError(
            absl::StrCat("set_labels: a terminal has at most ", kMaxLabels, " labels"));
      }
      if (update.merchant_id && *update.merchant_id != t.merchant_id) {
        changes.push_back(absl::StrCat("merchant ", t.merchant_id, " -> ", *update.merchant_id));
        t.merchant_id = *update.merchant_id;
      }
      if (update.tid && *update.tid != t.tid) {
        changes.push_back(absl::StrCat("tid \"", t.tid, "\" -> \"", *update.tid, "\""));
        t.tid = *update.tid;
      }
      if (changes.empty()) return std::string("no change");
      return absl::StrJoin(changes, " ");
    };
    return store_.UpdateTerminal(scope, id, mutate, audit);
  });
}

absl::StatusOr<Terminal> TerminalRegistry::ChangeLifecycle(const Actor& actor, absl::string_view id,
                                                           LifecycleAction action,
                                                           absl::string_view reason) {
  const Method method = MethodFor(action);
  AuditEntry audit = BeginAudit(actor, method, "terminal", id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Terminal> {
    RETURN_IF_ERROR(Authorize(actor, method));
    if (action == LifecycleAction::kActivate) {
      return absl::InvalidArgumentError("terminals become active by enrolling");
    }
    RETURN_IF_ERROR(ValidateId("id", id, "trm"));
    RETURN_IF_ERROR(ValidateReason("reason", reason));
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    // Load under the row lock, decide, write: the state change and the revocation commit together.
    return RunFor<Terminal>(unit_, [&]() -> absl::StatusOr<Terminal> {
      ASSIGN_OR_RETURN(const Terminal before, store_.LockTerminal(scope, id));
      ASSIGN_OR_RETURN(const TerminalState next, NextState(before, action));
      std::string summary = next == before.state
                                ? absl::StrCat("no change: already ", StateName(before.state))
                                : absl::StrCat(StateName(before.state), " -> ", StateName(next));
      if (!reason.empty()) absl::StrAppend(&summary, " (reason: ", reason, ")");
      if (RevokesCertificates(before.state, next)) {
        ASSIGN_OR_RETURN(const int revoked, certificates_.RevokeCertificates(before.id));
        if (revoked > 0) absl::StrAppend(&summary, "; revoked ", revoked, " certificate(s)");
      }
      Mutation<Terminal> mutate = [&](Terminal& t) -> absl::StatusOr<std::string> {
        t.state = next;
        return summary;
      };
      return store_.UpdateTerminal(scope, id, mutate, audit);
    });
  });
}

}  // namespace posfleet::core

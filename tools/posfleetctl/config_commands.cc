// posfleetctl config: terminal parameters (schema, groups, layered values, revisions, explain,
// drift). See docs/parameters.md.

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/posfleetctl/commands.h"
#include "tools/posfleetctl/config_change.h"

namespace posfleet::ctl {
namespace {

// Whether `key` is one of `wanted` (all when empty); "host.*" stands for every key it begins.
bool KeyWanted(const std::vector<std::string>& wanted, absl::string_view key) {
  if (wanted.empty()) return true;
  for (const std::string& w : wanted) {
    if (!w.empty() && w.back() == '*') {
      if (absl::StartsWith(key, absl::string_view(w).substr(0, w.size() - 1))) return true;
    } else if (w == key) {
      return true;
    }
  }
  return false;
}

// What a revision changed, one row per edit; secrets masked by the server.
void PrintEdits(const v1::DiffRevisionsResponse& d, const std::string& indent) {
  if (d.edits_size() == 0) {
    std::cout << indent << "(no change: the configuration is the same)\n";
    return;
  }
  Table table({"WHAT", "WHERE", "KEY", "BEFORE", "AFTER"});
  for (const v1::ConfigEdit& e : d.edits()) {
    const std::string part = EnumText(v1::ConfigEditPart_Name(e.part()), "CONFIG_EDIT_PART_");
    const std::string where = e.part() == v1::CONFIG_EDIT_PART_SCHEMA ? "-"
                              : e.part() == v1::CONFIG_EDIT_PART_GROUP
                                  ? e.id()
                                  : LayerText(e.kind(), e.id());
    table.Add({part, where, e.key().empty() ? "-" : e.key(),
               Shown(e.has_before() ? std::optional<std::string>(e.before()) : std::nullopt),
               Shown(e.has_after() ? std::optional<std::string>(e.after()) : std::nullopt)});
  }
  std::ostringstream out;
  table.Print(out);
  for (absl::string_view line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
    std::cout << indent << line << "\n";
  }
}

// "in-sync", "pending", "rejected": the words of docs/parameters.md and --state.
std::string SyncText(v1::ConfigSyncState s) {
  std::string text = EnumText(v1::ConfigSyncState_Name(s), "CONFIG_SYNC_STATE_");
  std::replace(text.begin(), text.end(), '_', '-');
  return text;
}

// The layer a set/unset addresses, from --terminal, --merchant, --group or --tenant.
struct LayerArgs {
  std::string terminal, merchant, group, tenant;
};

void AddLayerFlags(CLI::App* cmd, LayerArgs* a) {
  cmd->add_option("--terminal", a->terminal, "the terminal's own override layer");
  cmd->add_option("--merchant", a->merchant, "the layer of a merchant's terminals");
  cmd->add_option("--group", a->group, "the layer of a label-selector group (config group set)");
  cmd->add_option("--tenant", a->tenant,
                  "the tenant default layer (alone), or the tenant of --group (global tokens); "
                  "a tenant token may give --tenant ''")
      ->expected(0, 1);
}

bool FillLayer(Context& ctx, CLI::App* cmd, const LayerArgs& a, v1::SetValuesRequest* req) {
  const int given = !a.terminal.empty() + !a.merchant.empty() + !a.group.empty();
  if (given > 1) {
    ctx.UsageError("give one of --terminal, --merchant, --group (or --tenant alone)");
    return false;
  }
  req->set_tenant_id(a.tenant);
  if (!a.terminal.empty()) {
    req->set_kind(v1::LAYER_KIND_TERMINAL);
    req->set_id(a.terminal);
  } else if (!a.merchant.empty()) {
    req->set_kind(v1::LAYER_KIND_MERCHANT);
    req->set_id(a.merchant);
  } else if (!a.group.empty()) {
    req->set_kind(v1::LAYER_KIND_GROUP);
    req->set_id(a.group);
  } else if (cmd->count("--tenant") > 0) {
    req->set_kind(v1::LAYER_KIND_TENANT);
  } else {
    ctx.UsageError("which layer? give --terminal ID, --merchant ID, --group NAME or --tenant");
    return false;
  }
  return true;
}

void AddGroupSet(CLI::App* group, Context& ctx) {
  struct Args {
    uint64_t if_revision = 0;
    std::string tenant, name, selector, message;
    int priority = 0;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = group->add_subcommand("set", "create or change a group");
  cmd->footer(
      "Examples:\n  posfleetctl config group set pilot --selector pilot --priority 20\n"
      "  posfleetctl config group set north-a920 --selector 'region=north,model in (A920,A80)' "
      "--priority 10\nSelectors: key=value, key!=value, key in (a,b), key notin (a,b), key "
      "(has it), !key (has it not), joined by commas (all must hold). vendor and model match "
      "the terminal's own fields unless it has a label of that name. Then set values with "
      "config set --group NAME.");
  cmd->add_option("NAME", a->name, "a-z, 0-9 and '-'")->required();
  cmd->add_option("--selector", a->selector, "label selector: region=north,model in (A920)")
      ->required();
  cmd->add_option("--priority", a->priority, "unique in the tenant; the higher wins")->required();
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->callback([&ctx, a] {
    v1::SetGroupRequest req;
    req.set_tenant_id(a->tenant);
    req.mutable_group()->set_name(a->name);
    req.mutable_group()->set_selector(a->selector);
    req.mutable_group()->set_priority(a->priority);
    SendChange(ctx, &v1::ConfigService::Stub::SetGroup, req, a->message, a->dry_run,
               a->if_revision);
  });
}

void AddGroupDelete(CLI::App* group, Context& ctx) {
  struct Args {
    uint64_t if_revision = 0;
    std::string tenant, name, message;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = group->add_subcommand("delete", "delete a group and its values");
  cmd->add_option("NAME", a->name, "group name")->required();
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->callback([&ctx, a] {
    v1::DeleteGroupRequest req;
    req.set_tenant_id(a->tenant);
    req.set_name(a->name);
    SendChange(ctx, &v1::ConfigService::Stub::DeleteGroup, req, a->message, a->dry_run,
               a->if_revision);
  });
}

// config layers
void AddConfigLayers(CLI::App* config, Context& ctx) {
  struct Args {
    std::string tenant;
    std::vector<std::string> keys;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "layers", "every value set on every layer, and the groups with priority and selector");
  cmd->add_option("KEY", a->keys, "only these keys (host.* for a prefix)");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->callback([&ctx, a] {
    v1::GetLayersRequest req;
    req.set_tenant_id(a->tenant);
    v1::GetLayersResponse resp;
    if (!ctx.InvokeForTable(ctx.config(), &v1::ConfigService::Stub::GetLayers, req, &resp)) return;
    std::cout << "revision " << resp.revision() << "\n";
    Table table({"LAYER", "KEY", "VALUE"});
    for (const v1::LayerValues& l : resp.layers()) {
      std::map<std::string, std::string> sorted(l.values().begin(), l.values().end());
      for (const auto& [k, v] : sorted) {
        if (KeyWanted(a->keys, k)) table.Add({LayerText(l.kind(), l.id()), k, v});
      }
    }
    table.Print(std::cout);
    if (table.size() == 0) std::cout << "(no value set on any layer)\n";
    Table groups({"GROUP", "PRIORITY", "SELECTOR"});
    for (const v1::LayerValues& l : resp.layers()) {
      if (l.kind() == v1::LAYER_KIND_GROUP) {
        groups.Add({l.id(), std::to_string(l.priority()), l.selector()});
      }
    }
    if (groups.size() > 0) {
      std::cout << "\ngroups (the higher priority wins where two match; above the tenant "
                   "layer, below merchant and terminal):\n";
      groups.Print(std::cout);
    }
  });
}

// config get TERMINAL
void AddConfigGet(CLI::App* config, Context& ctx) {
  struct Args {
    std::string terminal;
    std::vector<std::string> keys;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "get", "a terminal's effective parameters, where each comes from, and its sync state");
  cmd->footer(
      "Examples:\n  posfleetctl config get trm_...\n  posfleetctl config get trm_... "
      "contactless.limit 'host.*'\nThe state is in-sync only when the terminal reported the "
      "set it should have now; config explain TERMINAL KEY says why a value wins.");
  cmd->add_option("TERMINAL", a->terminal, "terminal id")->required();
  cmd->add_option("KEY", a->keys, "only these keys (host.* for a prefix)");
  cmd->callback([&ctx, a] {
    v1::GetEffectiveConfigRequest req;
    req.set_terminal_id(a->terminal);
    v1::GetEffectiveConfigResponse resp;
    if (!ctx.InvokeForTable(ctx.config(), &v1::ConfigService::Stub::GetEffectiveConfig, req, &resp))
      return;
    Table table({"KEY", "VALUE", "FROM"});
    for (const v1::EffectiveParam& p : resp.params()) {
      if (!KeyWanted(a->keys, p.key())) continue;
      table.Add({p.key(), p.value(), LayerText(p.source(), p.source_id())});
    }
    table.Print(std::cout);
    if (table.size() == 0) {
      std::cout << (a->keys.empty() ? "(no parameters)\n" : "(none of these keys is set)\n");
    }
    const v1::TerminalConfigStatus& s = resp.status();
    if (!resp.has_status()) {
      std::cout << "state: not computed yet (head revision " << resp.revision() << ")\n";
      return;
    }
    std::cout << "state: " << SyncText(s.state()) << " (desired revision " << s.desired_revision()
              << ", applied "
              << (s.reported_revision() == 0 ? std::string("none")
                                             : std::to_string(s.reported_revision()))
              << (s.online() ? ", online" : ", offline") << ")";
    if (!s.reason().empty()) {
      std::cout << (s.state() == v1::CONFIG_SYNC_STATE_REJECTED ? "; rejected: " : ": ")
                << s.reason();
    }
    std::cout << "\n";
  });
}

// config explain TERMINAL [KEY]
void AddConfigExplain(CLI::App* config, Context& ctx) {
  struct Args {
    std::string terminal, key;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "explain", "every layer that sets a key for a terminal, which wins and why");
  cmd->footer(
      "Example:\n  posfleetctl config explain trm_... contactless.limit\nThe winner is "
      "marked *; layers, weakest first: schema default, tenant, groups (by priority), "
      "merchant, terminal.");
  cmd->add_option("TERMINAL", a->terminal, "terminal id")->required();
  cmd->add_option("KEY", a->key, "one key (default: every key with a value)");
  cmd->callback([&ctx, a] {
    v1::ExplainRequest req;
    req.set_terminal_id(a->terminal);
    req.set_key(a->key);
    v1::ExplainResponse resp;
    if (!ctx.InvokeForTable(ctx.config(), &v1::ConfigService::Stub::Explain, req, &resp)) return;
    for (const v1::ExplainedParam& p : resp.params()) {
      std::cout << p.key() << "\n";
      if (p.steps_size() == 0) std::cout << "  (no value on any layer, no default)\n";
      for (const v1::ExplainStep& s : p.steps()) {
        std::cout << (s.wins() ? "  * " : "    ") << "\"" << s.value() << "\"  " << s.why() << "\n";
      }
    }
    if (resp.params_size() == 0) std::cout << "(no parameter has a value for this terminal)\n";
  });
}

// config diff [REV]
void AddConfigDiff(CLI::App* config, Context& ctx) {
  struct Args {
    std::string tenant;
    uint64_t revision = 0, base = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "diff", "what a revision changed: schema, groups and values, layer by layer");
  cmd->footer(
      "Examples:\n  posfleetctl config diff            # the newest revision against the one "
      "before\n  posfleetctl config diff 12\n  posfleetctl config diff 12 --from 7   # "
      "everything between 7 and 12");
  cmd->add_option("REV", a->revision, "the revision (default: the newest)");
  cmd->add_option("--from", a->base, "compare against this revision (default: REV - 1)");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->callback([&ctx, a] {
    v1::DiffRevisionsRequest req;
    req.set_tenant_id(a->tenant);
    req.set_revision(a->revision);
    req.set_base(a->base);
    v1::DiffRevisionsResponse resp;
    if (!ctx.InvokeForTable(ctx.config(), &v1::ConfigService::Stub::DiffRevisions, req, &resp))
      return;
    std::cout << "revision " << resp.revision() << " against "
              << (resp.base() == 0 ? std::string("nothing (the first revision)")
                                   : absl::StrCat("revision ", resp.base()))
              << ":\n";
    PrintEdits(resp, "  ");
  });
}

// config history
void AddConfigHistory(CLI::App* config, Context& ctx) {
  struct Args {
    std::string tenant;
    int limit = 20;
    bool diff = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand("history", "revisions, newest first");
  cmd->footer(
      "Examples:\n  posfleetctl config history --limit 10\n  posfleetctl config history "
      "--diff --limit 3     # what each one changed\nOrder is by revision; config diff REV "
      "shows one, config restore REV brings one back.");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_flag("--diff", a->diff, "under each revision, what it changed (config diff REV)");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListRevisionsRequest req;
    req.set_tenant_id(a->tenant);
    v1::ListRevisionsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListRevisionsRequest& r,
                   v1::ListRevisionsResponse* out) {
      return ctx.config().ListRevisions(c, r, out);
    };
    auto items = [](v1::ListRevisionsResponse& r) { return r.mutable_revisions(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    if (a->diff) {
      for (const v1::ConfigRevision& r : all.revisions()) {
        std::cout << "revision " << r.revision() << "  " << FormatTime(r.create_time()) << "  "
                  << r.author() << "  " << r.terminals_changed() << " terminal(s)"
                  << (r.message().empty() ? "" : absl::StrCat("  \"", r.message(), "\"")) << "\n";
        v1::DiffRevisionsRequest req;
        req.set_tenant_id(a->tenant);
        req.set_revision(r.revision());
        v1::DiffRevisionsResponse diff;
        if (!ctx.Check(
                ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::DiffRevisions, req, &diff)))
          return;
        PrintEdits(diff, "  ");
      }
      if (all.revisions_size() == 0) std::cout << "(no revisions yet)\n";
      return;
    }
    Table table({"REV", "TIME", "AUTHOR", "TERMINALS", "CHANGE", "MESSAGE"});
    for (const v1::ConfigRevision& r : all.revisions()) {
      table.Add({std::to_string(r.revision()), FormatTime(r.create_time()), r.author(),
                 std::to_string(r.terminals_changed()), r.summary(), r.message()});
    }
    table.Print(std::cout);
    if (table.size() == 0) std::cout << "(no revisions yet)\n";
  });
}

// config restore REV
void AddConfigRestore(CLI::App* config, Context& ctx) {
  struct Args {
    uint64_t if_revision = 0;
    std::string tenant, message;
    uint64_t revision = 0;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "restore", "make an earlier revision current again (as a new revision)");
  cmd->footer(
      "Example:\n  posfleetctl config diff 14 --from 12   # what coming back to 12 "
      "undoes\n  posfleetctl config restore 12 --dry-run -m 'undo the pilot limit'");
  cmd->add_option("REV", a->revision, "revision number")->required()->check(CLI::PositiveNumber);
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->callback([&ctx, a] {
    v1::RestoreRevisionRequest req;
    req.set_tenant_id(a->tenant);
    req.set_revision(a->revision);
    SendChange(ctx, &v1::ConfigService::Stub::RestoreRevision, req, a->message, a->dry_run,
               a->if_revision);
  });
}

// config drift
void AddConfigDrift(CLI::App* config, Context& ctx) {
  struct Args {
    std::string tenant, state;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      "drift", "terminals not running their desired parameters (pending or rejected)");
  cmd->footer(
      "Examples:\n  posfleetctl config drift\n  posfleetctl config drift --state rejected   # "
      "with the terminal's reason\nA terminal is in-sync only when it reported the set it "
      "should have now; pending says why (never enrolled, offline since ..., recompute due, "
      "not published yet, published, not reported yet).");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_option("--state", a->state, "pending, rejected or in-sync (default: not in sync)")
      ->check(CLI::IsMember({"pending", "rejected", "in-sync"}));
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListDriftRequest req;
    req.set_tenant_id(a->tenant);
    if (!a->state.empty()) {
      req.set_state(a->state == "pending"    ? v1::CONFIG_SYNC_STATE_PENDING
                    : a->state == "rejected" ? v1::CONFIG_SYNC_STATE_REJECTED
                                             : v1::CONFIG_SYNC_STATE_IN_SYNC);
    }
    v1::ListDriftResponse all;
    uint64_t counts[3] = {0, 0, 0};
    auto rpc = [&](grpc::ClientContext* c, const v1::ListDriftRequest& r,
                   v1::ListDriftResponse* out) {
      grpc::Status s = ctx.config().ListDrift(c, r, out);
      counts[0] = out->in_sync();
      counts[1] = out->pending();
      counts[2] = out->rejected();
      return s;
    };
    auto items = [](v1::ListDriftResponse& r) { return r.mutable_terminals(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    all.set_in_sync(counts[0]);
    all.set_pending(counts[1]);
    all.set_rejected(counts[2]);
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    std::cout << "in sync " << counts[0] << ", pending " << counts[1] << ", rejected " << counts[2]
              << "\n";
    Table table({"TERMINAL", "STATE", "DESIRED", "APPLIED", "ONLINE", "SINCE", "REASON"});
    for (const v1::TerminalConfigStatus& s : all.terminals()) {
      table.Add({s.terminal_id(), SyncText(s.state()), std::to_string(s.desired_revision()),
                 s.reported_revision() == 0 ? "-" : std::to_string(s.reported_revision()),
                 s.online() ? "yes" : "no", FormatTime(s.desired_time()),
                 s.reason().empty() ? "-" : s.reason()});
    }
    if (table.size() > 0) table.Print(std::cout);
  });
}

// config set KEY=VALUE... and config unset KEY...: one verb each, the same flags.
// One KEY=VALUE, KEY+=ITEM or KEY-=ITEM of `config set`; false (a usage error) if it is none.
bool AddValue(Context& ctx, const std::string& item, v1::SetValuesRequest* req) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    ctx.UsageError(absl::StrCat("expected KEY=VALUE, KEY+=ITEM or KEY-=ITEM, got \"",
                                item.substr(0, 40), "\""));
    return false;
  }
  // KEY+=ITEM and KEY-=ITEM edit a list where it stands when the change commits; ITEM is one
  // item, or a JSON array of them.
  const char op = item[eq - 1];
  if ((op == '+' || op == '-') && eq > 1) {
    const std::string key = item.substr(0, eq - 1), items = item.substr(eq + 1);
    const std::string array =
        !items.empty() && items[0] == '[' ? items : nlohmann::json::array({items}).dump();
    (*(op == '+' ? req->mutable_add() : req->mutable_remove()))[key] = array;
    return true;
  }
  (*req->mutable_set())[item.substr(0, eq)] = item.substr(eq + 1);
  return true;
}

void AddSetOrUnset(CLI::App* config, Context& ctx, bool unset) {
  struct Args {
    uint64_t if_revision = 0;
    LayerArgs layer;
    std::vector<std::string> items;
    std::vector<std::string> unset_keys;
    std::string message;
    bool dry_run = false;
    int sample = 5;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = config->add_subcommand(
      unset ? "unset" : "set",
      unset ? "remove keys from a layer"
            : "set values on a layer: KEY=VALUE, or KEY+=ITEM / KEY-=ITEM to add to or remove "
              "from a list");
  cmd->footer(unset ? "Example:\n  posfleetctl config unset --terminal trm_... contactless.limit "
                      "--dry-run"
                    : "Examples:\n"
                      "  posfleetctl config set --tenant '' receipt.header='Thank you' "
                      "contactless.limit=50.00\n"
                      "  posfleetctl config set --merchant mer_... host.timeout=45s --dry-run\n"
                      "  posfleetctl config set --group pilot tip.enabled=true -m 'pilot tips'\n"
                      "  posfleetctl config set --terminal trm_... currencies+=CHF "
                      "currencies-=USD\n"
                      "  posfleetctl config set --tenant '' 'currencies=[\"EUR\",\"USD\"]'\n"
                      "Values as the schema types them (config schema get): integer 42; decimal "
                      "12.50; boolean true|false; enum one of its values; duration 90s, 5m, "
                      "1h30m; list a JSON array, or one item with += and -=. Secrets are "
                      "stored sealed and never shown again. Layers, weakest first: schema "
                      "default, --tenant, --group (higher priority wins), --merchant, "
                      "--terminal.");
  cmd->add_option(unset ? "KEY" : "KEY=VALUE", a->items, unset ? "keys" : "values")->required();
  AddLayerFlags(cmd, &a->layer);
  if (!unset) cmd->add_option("--unset", a->unset_keys, "also remove these keys");
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->add_option("--sample", a->sample, "terminal diffs to show")->check(CLI::Range(0, 100));
  cmd->callback([&ctx, a, cmd, unset] {
    v1::SetValuesRequest req;
    if (!FillLayer(ctx, cmd, a->layer, &req)) return;
    for (const std::string& item : a->items) {
      if (unset) {
        req.add_unset(item);
      } else if (!AddValue(ctx, item, &req)) {
        return;
      }
    }
    for (const std::string& k : a->unset_keys) req.add_unset(k);
    req.set_sample(static_cast<uint32_t>(a->sample));
    SendChange(ctx, &v1::ConfigService::Stub::SetValues, req, a->message, a->dry_run,
               a->if_revision);
  });
}

}  // namespace

void AddConfigCommands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand(
      "config", "terminal parameters: schema, layered values, revisions, explain, drift");
  config->require_subcommand(1);

  AddConfigSchemaCommands(config, ctx);  // config schema get|set|rename|remove

  // config group set|delete
  CLI::App* group = config->add_subcommand("group", "label-selector groups of terminals");
  group->require_subcommand(1);
  AddGroupSet(group, ctx);
  AddGroupDelete(group, ctx);
  AddSetOrUnset(config, ctx, /*unset=*/false);
  AddSetOrUnset(config, ctx, /*unset=*/true);
  AddConfigLayers(config, ctx);
  AddConfigGet(config, ctx);
  AddConfigExplain(config, ctx);
  AddConfigDiff(config, ctx);
  AddConfigHistory(config, ctx);
  AddConfigRestore(config, ctx);
  AddConfigDrift(config, ctx);
}

}  // namespace posfleet::ctl

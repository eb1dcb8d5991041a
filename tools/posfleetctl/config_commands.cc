// posfleetctl config: terminal parameters (schema, groups, layered values, revisions, explain,
// drift). See docs/parameters.md.

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {
namespace {

std::string LayerText(v1::LayerKind kind, const std::string& id) {
  const std::string name = EnumText(v1::LayerKind_Name(kind), "LAYER_KIND_");
  if (kind == v1::LAYER_KIND_DEFAULT || kind == v1::LAYER_KIND_TENANT || id.empty()) return name;
  return absl::StrCat(name, " ", id);
}

std::string Shown(const std::optional<std::string>& v) {
  return v ? absl::StrCat("\"", *v, "\"") : "(none)";
}

void PrintChange(Context& ctx, const v1::ConfigChangeResult& r) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(r) << "\n";
    return;
  }
  if (r.dry_run()) {
    std::cout << "dry run, nothing committed: would be revision " << r.revision() << ", changing "
              << r.terminals_changed() << " terminal(s)\n  " << r.summary() << "\n"
              << "  to commit exactly this, add --if-revision " << r.revision() - 1
              << " (refused if the configuration changes first)\n";
  } else {
    std::cout << "revision " << r.revision() << ": " << r.summary() << "\n"
              << r.terminals_changed() << " terminal(s) get a new parameter set\n";
  }
  if (r.sample_size() == 0) return;
  Table table({"TERMINAL", "KEY", "BEFORE", "AFTER"});
  for (const v1::TerminalDiff& d : r.sample()) {
    for (const v1::ParamDiff& p : d.diffs()) {
      table.Add({d.terminal_id(), p.key(),
                 Shown(p.has_before() ? std::optional<std::string>(p.before()) : std::nullopt),
                 Shown(p.has_after() ? std::optional<std::string>(p.after()) : std::nullopt)});
    }
  }
  std::cout << "for example:\n";
  table.Print(std::cout);
}

std::string Constraints(const v1::ParamSpec& s) {
  std::vector<std::string> c;
  if (s.has_min()) c.push_back(absl::StrCat("min ", s.min()));
  if (s.has_max()) c.push_back(absl::StrCat("max ", s.max()));
  if (s.max_length() > 0) c.push_back(absl::StrCat("max-length ", s.max_length()));
  if (s.max_items() > 0) c.push_back(absl::StrCat("max-items ", s.max_items()));
  if (!s.pattern().empty()) c.push_back(absl::StrCat("pattern ", s.pattern()));
  if (s.allowed_size() > 0) c.push_back(absl::StrCat("one of ", absl::StrJoin(s.allowed(), "|")));
  return c.empty() ? "-" : absl::StrJoin(c, ", ");
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

// -m/--message, --dry-run and --if-revision, which every change takes.
void AddChangeFlags(CLI::App* cmd, std::string* message, bool* dry_run, uint64_t* if_revision) {
  cmd->add_option("-m,--message", *message, "why (kept with the revision)");
  cmd->add_flag("--dry-run", *dry_run,
                "count the terminals it would change and show a sample diff; commit nothing");
  cmd->add_option("--if-revision", *if_revision,
                  "commit only if the configuration is still at this revision (the one a "
                  "--dry-run showed); refused if someone changed it since");
}

}  // namespace

void AddConfigCommands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand(
      "config", "terminal parameters: schema, layered values, revisions, explain, drift");
  config->require_subcommand(1);

  // config schema get|set|remove
  CLI::App* schema = config->add_subcommand("schema", "the typed parameter schema of a tenant");
  schema->require_subcommand(1);
  {
    auto tenant = std::make_shared<std::string>();
    CLI::App* cmd = schema->add_subcommand("get", "every key with type, constraints and default");
    cmd->add_option("--tenant", *tenant, "tenant id (global tokens)");
    cmd->callback([&ctx, tenant] {
      v1::GetSchemaRequest req;
      req.set_tenant_id(*tenant);
      v1::GetSchemaResponse resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::GetSchema, req, &resp)))
        return;
      if (ctx.format() == Format::kJson) {
        std::cout << ToJson(resp) << "\n";
        return;
      }
      std::cout << "revision " << resp.revision() << ", schema version " << resp.schema_version()
                << "\n";
      Table table({"KEY", "TYPE", "CONSTRAINTS", "DEFAULT", "SECRET", "DESCRIPTION"});
      for (const v1::ParamSpec& s : resp.specs()) {
        table.Add({s.key(), EnumText(v1::ParamType_Name(s.type()), "PARAM_TYPE_"), Constraints(s),
                   s.has_default_value() ? s.default_value() : "-", s.secret() ? "yes" : "no",
                   s.description()});
      }
      table.Print(std::cout);
      if (resp.groups_size() > 0) {
        std::cout << "\ngroups (the higher priority wins):\n";
        Table groups({"GROUP", "PRIORITY", "SELECTOR"});
        for (const v1::ParamGroup& g : resp.groups()) {
          groups.Add({g.name(), std::to_string(g.priority()), g.selector()});
        }
        groups.Print(std::cout);
      }
    });
  }
  {
    struct Args {
      uint64_t if_revision = 0;
      std::string tenant, key, type, pattern, allowed, default_value, description, message, file;
      std::optional<double> min, max;
      uint32_t max_length = 0, max_items = 0;
      bool secret = false, dry_run = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = schema->add_subcommand(
        "set", "add or change a key (or many, from --file: a JSON array of ParamSpec)");
    cmd->add_option("KEY", a->key, "lower case, dots between words: receipt.header");
    cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
    cmd->add_option("--type", a->type, "string, integer, decimal, boolean, enum, duration, list");
    cmd->add_option("--min", a->min, "integer, decimal; duration in seconds");
    cmd->add_option("--max", a->max, "integer, decimal; duration in seconds");
    cmd->add_option("--max-length", a->max_length, "string; list: per item");
    cmd->add_option("--max-items", a->max_items, "list");
    cmd->add_option("--pattern", a->pattern, "RE2 the whole value must match (string, list items)");
    cmd->add_option("--allowed", a->allowed, "comma-separated allowed values (enum, list)");
    cmd->add_option("--default", a->default_value, "the value when no layer sets one");
    cmd->add_option("--description", a->description, "what it is for");
    cmd->add_flag("--secret", a->secret, "encrypted at rest, never shown (strings)");
    cmd->add_option("--file", a->file, "JSON array of ParamSpec objects")->check(CLI::ExistingFile);
    AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
    cmd->callback([&ctx, a] {
      v1::UpdateSchemaRequest req;
      req.set_tenant_id(a->tenant);
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      if (!a->file.empty()) {
        if (!a->key.empty()) return ctx.UsageError("give KEY and flags, or --file, not both");
        std::ifstream in(a->file);
        std::stringstream text;
        text << "{\"upsert\": " << in.rdbuf() << "}";
        v1::UpdateSchemaRequest parsed;
        auto s = google::protobuf::util::JsonStringToMessage(text.str(), &parsed);
        if (!s.ok()) {
          return ctx.UsageError(
              absl::StrCat(a->file, ": not a JSON array of ParamSpec: ", s.message().as_string()));
        }
        *req.mutable_upsert() = parsed.upsert();
      } else {
        if (a->key.empty() || a->type.empty()) {
          return ctx.UsageError("give KEY and --type (or --file)");
        }
        v1::ParamSpec* s = req.add_upsert();
        s->set_key(a->key);
        v1::ParamType type;
        if (!v1::ParamType_Parse(EnumName(a->type, "PARAM_TYPE_"), &type) ||
            type == v1::PARAM_TYPE_UNSPECIFIED) {
          return ctx.UsageError("--type: string, integer, decimal, boolean, enum, duration, list");
        }
        s->set_type(type);
        if (a->min) s->set_min(*a->min);
        if (a->max) s->set_max(*a->max);
        s->set_max_length(a->max_length);
        s->set_max_items(a->max_items);
        s->set_pattern(a->pattern);
        if (!a->allowed.empty()) {
          for (absl::string_view v : absl::StrSplit(a->allowed, ','))
            s->add_allowed(std::string(v));
        }
        if (!a->default_value.empty()) s->set_default_value(a->default_value);
        s->set_description(a->description);
        s->set_secret(a->secret);
      }
      v1::ConfigChangeResult resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::UpdateSchema, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }
  {
    struct Args {
      uint64_t if_revision = 0;
      std::string tenant, message;
      std::vector<std::string> keys;
      bool dry_run = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd =
        schema->add_subcommand("remove", "remove keys (refused while a layer still sets them)");
    cmd->add_option("KEY", a->keys, "keys")->required();
    cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
    AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
    cmd->callback([&ctx, a] {
      v1::UpdateSchemaRequest req;
      req.set_tenant_id(a->tenant);
      for (const std::string& k : a->keys) req.add_remove(k);
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      v1::ConfigChangeResult resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::UpdateSchema, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }

  // config group set|delete
  CLI::App* group = config->add_subcommand("group", "label-selector groups of terminals");
  group->require_subcommand(1);
  {
    struct Args {
      uint64_t if_revision = 0;
      std::string tenant, name, selector, message;
      int priority = 0;
      bool dry_run = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = group->add_subcommand("set", "create or change a group");
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
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      v1::ConfigChangeResult resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::SetGroup, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }
  {
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
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      v1::ConfigChangeResult resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::DeleteGroup, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }

  // config set|unset
  for (const bool unset : {false, true}) {
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
          continue;
        }
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
          return ctx.UsageError(absl::StrCat("expected KEY=VALUE, KEY+=ITEM or KEY-=ITEM, got \"",
                                             item.substr(0, 40), "\""));
        }
        // KEY+=ITEM and KEY-=ITEM edit a list where it stands when the change commits; ITEM is
        // one item, or a JSON array of them.
        const char op = item[eq - 1];
        if ((op == '+' || op == '-') && eq > 1) {
          const std::string key = item.substr(0, eq - 1), items = item.substr(eq + 1);
          const std::string array =
              !items.empty() && items[0] == '[' ? items : nlohmann::json::array({items}).dump();
          (*(op == '+' ? req.mutable_add() : req.mutable_remove()))[key] = array;
          continue;
        }
        (*req.mutable_set())[item.substr(0, eq)] = item.substr(eq + 1);
      }
      for (const std::string& k : a->unset_keys) req.add_unset(k);
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      req.set_sample(static_cast<uint32_t>(a->sample));
      v1::ConfigChangeResult resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::SetValues, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }

  // config layers
  {
    auto tenant = std::make_shared<std::string>();
    CLI::App* cmd = config->add_subcommand("layers", "every value set on every layer");
    cmd->add_option("--tenant", *tenant, "tenant id (global tokens)");
    cmd->callback([&ctx, tenant] {
      v1::GetLayersRequest req;
      req.set_tenant_id(*tenant);
      v1::GetLayersResponse resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::GetLayers, req, &resp)))
        return;
      if (ctx.format() == Format::kJson) {
        std::cout << ToJson(resp) << "\n";
        return;
      }
      std::cout << "revision " << resp.revision() << "\n";
      Table table({"LAYER", "KEY", "VALUE"});
      for (const v1::LayerValues& l : resp.layers()) {
        std::map<std::string, std::string> sorted(l.values().begin(), l.values().end());
        for (const auto& [k, v] : sorted) table.Add({LayerText(l.kind(), l.id()), k, v});
      }
      table.Print(std::cout);
    });
  }

  // config get TERMINAL
  {
    auto terminal = std::make_shared<std::string>();
    CLI::App* cmd = config->add_subcommand(
        "get", "a terminal's effective parameters, where each comes from, and its sync state");
    cmd->add_option("TERMINAL", *terminal, "terminal id")->required();
    cmd->callback([&ctx, terminal] {
      v1::GetEffectiveConfigRequest req;
      req.set_terminal_id(*terminal);
      v1::GetEffectiveConfigResponse resp;
      if (!ctx.Check(
              ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::GetEffectiveConfig, req, &resp)))
        return;
      if (ctx.format() == Format::kJson) {
        std::cout << ToJson(resp) << "\n";
        return;
      }
      Table table({"KEY", "VALUE", "FROM"});
      for (const v1::EffectiveParam& p : resp.params()) {
        table.Add({p.key(), p.value(), LayerText(p.source(), p.source_id())});
      }
      table.Print(std::cout);
      if (resp.params_size() == 0) std::cout << "(no parameters)\n";
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
  {
    struct Args {
      std::string terminal, key;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = config->add_subcommand(
        "explain", "every layer that sets a key for a terminal, which wins and why");
    cmd->add_option("TERMINAL", a->terminal, "terminal id")->required();
    cmd->add_option("KEY", a->key, "one key (default: every key with a value)");
    cmd->callback([&ctx, a] {
      v1::ExplainRequest req;
      req.set_terminal_id(a->terminal);
      req.set_key(a->key);
      v1::ExplainResponse resp;
      if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::Explain, req, &resp)))
        return;
      if (ctx.format() == Format::kJson) {
        std::cout << ToJson(resp) << "\n";
        return;
      }
      for (const v1::ExplainedParam& p : resp.params()) {
        std::cout << p.key() << "\n";
        if (p.steps_size() == 0) std::cout << "  (no value on any layer, no default)\n";
        for (const v1::ExplainStep& s : p.steps()) {
          std::cout << (s.wins() ? "  * " : "    ") << "\"" << s.value() << "\"  " << s.why()
                    << "\n";
        }
      }
      if (resp.params_size() == 0) std::cout << "(no parameter has a value for this terminal)\n";
    });
  }

  // config history
  {
    struct Args {
      std::string tenant;
      int limit = 20;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = config->add_subcommand("history", "revisions, newest first");
    cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
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
  {
    struct Args {
      uint64_t if_revision = 0;
      std::string tenant, message;
      uint64_t revision = 0;
      bool dry_run = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = config->add_subcommand(
        "restore", "make an earlier revision current again (as a new revision)");
    cmd->add_option("REV", a->revision, "revision number")->required()->check(CLI::PositiveNumber);
    cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
    AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
    cmd->callback([&ctx, a] {
      v1::RestoreRevisionRequest req;
      req.set_tenant_id(a->tenant);
      req.set_revision(a->revision);
      req.set_message(a->message);
      req.set_dry_run(a->dry_run);
      req.set_if_revision(a->if_revision);
      v1::ConfigChangeResult resp;
      if (!ctx.Check(
              ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::RestoreRevision, req, &resp)))
        return;
      PrintChange(ctx, resp);
    });
  }

  // config drift
  {
    struct Args {
      std::string tenant, state;
      int limit = 100;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = config->add_subcommand(
        "drift", "terminals not running their desired parameters (pending or rejected)");
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
      std::cout << "in sync " << counts[0] << ", pending " << counts[1] << ", rejected "
                << counts[2] << "\n";
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
}

}  // namespace posfleet::ctl

// posfleetctl config schema: the typed keys of a tenant's parameters. See docs/parameters.md.

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/posfleetctl/config_change.h"
#include "tools/posfleetctl/output.h"

namespace posfleet::ctl {
namespace {

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

void AddSchemaGet(CLI::App* schema, Context& ctx) {
  auto tenant = std::make_shared<std::string>();
  CLI::App* cmd = schema->add_subcommand("get", "every key with type, constraints and default");
  cmd->add_option("--tenant", *tenant, "tenant id (global tokens)");
  cmd->callback([&ctx, tenant] {
    v1::GetSchemaRequest req;
    req.set_tenant_id(*tenant);
    v1::GetSchemaResponse resp;
    if (!ctx.InvokeForTable(ctx.config(), &v1::ConfigService::Stub::GetSchema, req, &resp)) return;
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

// What `config schema set` was given.
struct SchemaSetArgs {
  uint64_t if_revision = 0;
  std::string tenant, key, type, pattern, allowed, default_value, description, message, file;
  std::vector<std::string> clear;
  std::optional<double> min, max;
  uint32_t max_length = 0, max_items = 0;
  bool secret = false, dry_run = false;
};

// --file: a JSON array of ParamSpec, each replacing its key whole.
bool ReadSpecs(Context& ctx, const SchemaSetArgs& a, v1::UpdateSchemaRequest* req) {
  if (!a.key.empty()) {
    ctx.UsageError("give KEY and flags, or --file, not both");
    return false;
  }
  std::ifstream in(a.file);
  std::stringstream text;
  text << "{\"upsert\": " << in.rdbuf() << "}";
  v1::UpdateSchemaRequest parsed;
  auto s = google::protobuf::util::JsonStringToMessage(text.str(), &parsed);
  if (!s.ok()) {
    ctx.UsageError(
        absl::StrCat(a.file, ": not a JSON array of ParamSpec: ", s.message().as_string()));
    return false;
  }
  *req->mutable_upsert() = parsed.upsert();
  return true;
}

// Drops the fields --clear names from `s`; false (a usage error) if a flag also sets one.
bool ClearFields(Context& ctx, CLI::App* cmd, const std::vector<std::string>& fields,
                 v1::ParamSpec* s) {
  for (const std::string& field : fields) {
    if (cmd->count("--" + field) > 0) {
      ctx.UsageError(absl::StrCat("--", field, " and --clear ", field, ": pick one"));
      return false;
    }
    if (field == "min") s->clear_min();
    if (field == "max") s->clear_max();
    if (field == "max-length") s->clear_max_length();
    if (field == "max-items") s->clear_max_items();
    if (field == "pattern") s->clear_pattern();
    if (field == "allowed") s->clear_allowed();
    if (field == "default") s->clear_default_value();
    if (field == "description") s->clear_description();
    if (field == "secret") s->clear_secret();
  }
  return true;
}

// KEY and flags: an existing key keeps every field no flag names. It starts from the key's spec
// at the revision it was read at, so that a change made in between is not overwritten.
bool EditSpec(Context& ctx, CLI::App* cmd, const SchemaSetArgs& a, v1::UpdateSchemaRequest* req) {
  if (a.key.empty()) {
    ctx.UsageError("give KEY (or --file)");
    return false;
  }
  v1::GetSchemaRequest get;
  get.set_tenant_id(a.tenant);
  v1::GetSchemaResponse current;
  if (!ctx.Check(ctx.Invoke(ctx.config(), &v1::ConfigService::Stub::GetSchema, get, &current)))
    return false;
  v1::ParamSpec* s = req->add_upsert();
  bool exists = false;
  for (const v1::ParamSpec& spec : current.specs()) {
    if (spec.key() == a.key) {
      *s = spec;
      exists = true;
    }
  }
  if (!exists && a.type.empty()) {
    ctx.UsageError(absl::StrCat(a.key, " is a new key: give its --type"));
    return false;
  }
  if (!exists && !a.clear.empty()) {
    ctx.UsageError(absl::StrCat(a.key, " is a new key: nothing to --clear"));
    return false;
  }
  if (a.if_revision == 0) req->set_if_revision(current.revision());
  s->set_key(a.key);
  if (!a.type.empty()) {
    v1::ParamType type;
    if (!v1::ParamType_Parse(EnumName(a.type, "PARAM_TYPE_"), &type) ||
        type == v1::PARAM_TYPE_UNSPECIFIED) {
      ctx.UsageError("--type: string, integer, decimal, boolean, enum, duration, list");
      return false;
    }
    s->set_type(type);
  }
  if (!ClearFields(ctx, cmd, a.clear, s)) return false;
  if (a.min) s->set_min(*a.min);
  if (a.max) s->set_max(*a.max);
  if (cmd->count("--max-length") > 0) s->set_max_length(a.max_length);
  if (cmd->count("--max-items") > 0) s->set_max_items(a.max_items);
  if (cmd->count("--pattern") > 0) s->set_pattern(a.pattern);
  if (cmd->count("--allowed") > 0) {
    s->clear_allowed();
    for (absl::string_view v : absl::StrSplit(a.allowed, ',', absl::SkipEmpty()))
      s->add_allowed(std::string(v));
  }
  if (cmd->count("--default") > 0) s->set_default_value(a.default_value);
  if (cmd->count("--description") > 0) s->set_description(a.description);
  if (cmd->count("--secret") > 0) s->set_secret(a.secret);
  return true;
}

void AddSchemaSet(CLI::App* schema, Context& ctx) {
  auto a = std::make_shared<SchemaSetArgs>();
  CLI::App* cmd = schema->add_subcommand(
      "set",
      "add a key, or change some fields of one (the others are kept); or add or replace many "
      "whole, from --file");
  cmd->footer(
      "Examples:\n"
      "  posfleetctl config schema set receipt.header --type string --max-length 40 \\\n"
      "      --default 'Thank you' --description 'first line of the receipt'\n"
      "  posfleetctl config schema set host.timeout --type duration --min 5 --max 120 "
      "--default 30s\n"
      "  posfleetctl config schema set host.timeout --max 60      # keeps type, min, default\n"
      "  posfleetctl config schema set receipt.header --clear default\n"
      "  posfleetctl config schema set tip.mode --type enum --allowed off,prompt,fixed "
      "--default off\n"
      "  posfleetctl config schema set currencies --type list --allowed EUR,USD,CHF,GBP "
      "--max-items 4\n"
      "Values: integer 42; decimal 12.50; boolean true|false; duration 90s, 5m, 1h30m (--min "
      "and --max in seconds); list a JSON array '[\"EUR\",\"USD\"]'. See docs/parameters.md.");
  cmd->add_option("KEY", a->key, "lower case, dots between words: receipt.header");
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  cmd->add_option("--type", a->type,
                  "string, integer, decimal, boolean, enum, duration, list (a new key needs it)");
  cmd->add_option("--min", a->min, "integer, decimal; duration in seconds");
  cmd->add_option("--max", a->max, "integer, decimal; duration in seconds");
  cmd->add_option("--max-length", a->max_length, "string; list: per item");
  cmd->add_option("--max-items", a->max_items, "list");
  cmd->add_option("--pattern", a->pattern, "RE2 the whole value must match (string, list items)");
  cmd->add_option("--allowed", a->allowed, "comma-separated allowed values (enum, list)");
  cmd->add_option("--default", a->default_value, "the value when no layer sets one");
  cmd->add_option("--description", a->description, "what it is for");
  cmd->add_flag("--secret", a->secret, "encrypted at rest, never shown (strings)");
  cmd->add_option("--clear", a->clear,
                  "fields of an existing key to drop: min, max, max-length, max-items, pattern, "
                  "allowed, default, description, secret (comma-separated)")
      ->delimiter(',')
      ->check(CLI::IsMember({"min", "max", "max-length", "max-items", "pattern", "allowed",
                             "default", "description", "secret"}));
  cmd->add_option("--file", a->file,
                  "JSON array of ParamSpec objects, each replacing its key whole")
      ->check(CLI::ExistingFile);
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->callback([&ctx, cmd, a] {
    v1::UpdateSchemaRequest req;
    req.set_tenant_id(a->tenant);
    const bool filled = a->file.empty() ? EditSpec(ctx, cmd, *a, &req) : ReadSpecs(ctx, *a, &req);
    if (!filled) return;
    SendChange(ctx, &v1::ConfigService::Stub::UpdateSchema, req, a->message, a->dry_run,
               a->if_revision);
  });
}

void AddSchemaRename(CLI::App* schema, Context& ctx) {
  struct Args {
    uint64_t if_revision = 0;
    std::string tenant, from, to, message;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = schema->add_subcommand(
      "rename",
      "rename a key: its spec and every layer's value (secrets too) move to the new name");
  cmd->footer(
      "Terminals get the value under the new name at once: ship a payment app that reads the "
      "new name first.\nExample:\n  posfleetctl config schema rename receipt.header "
      "receipt.line1 --dry-run");
  cmd->add_option("KEY", a->from, "the key as it is")->required();
  cmd->add_option("NEW", a->to, "its new name (not in the schema yet)")->required();
  cmd->add_option("--tenant", a->tenant, "tenant id (global tokens)");
  AddChangeFlags(cmd, &a->message, &a->dry_run, &a->if_revision);
  cmd->callback([&ctx, a] {
    v1::UpdateSchemaRequest req;
    req.set_tenant_id(a->tenant);
    (*req.mutable_rename())[a->from] = a->to;
    SendChange(ctx, &v1::ConfigService::Stub::UpdateSchema, req, a->message, a->dry_run,
               a->if_revision);
  });
}

void AddSchemaRemove(CLI::App* schema, Context& ctx) {
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
    SendChange(ctx, &v1::ConfigService::Stub::UpdateSchema, req, a->message, a->dry_run,
               a->if_revision);
  });
}

}  // namespace

void AddConfigSchemaCommands(CLI::App* config, Context& ctx) {
  CLI::App* schema = config->add_subcommand("schema", "the typed parameter schema of a tenant");
  schema->require_subcommand(1);
  AddSchemaGet(schema, ctx);
  AddSchemaSet(schema, ctx);
  AddSchemaRename(schema, ctx);
  AddSchemaRemove(schema, ctx);
}

}  // namespace posfleet::ctl

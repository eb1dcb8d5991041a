// posfleetctl tokens ... and audit ...

#include "absl/time/time.h"
#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {
namespace {

std::string RoleText(v1::Role r) { return EnumText(v1::Role_Name(r), "ROLE_"); }

Table TokenTable() { return Table({"ID", "NAME", "ROLE", "TENANT", "CREATED", "REVOKED"}); }
void AddRow(Table& t, const v1::Token& k) {
  t.Add({k.id(), k.name(), RoleText(k.role()), k.tenant_id().empty() ? "(global)" : k.tenant_id(),
         FormatTime(k.create_time()), FormatTime(k.revoke_time())});
}

void ShowToken(Context& ctx, const v1::Token& t) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(t) << "\n";
    return;
  }
  Table table = TokenTable();
  AddRow(table, t);
  table.Print(std::cout);
}

void AddTokensCreate(CLI::App* tokens, Context& ctx) {
  struct Args {
    std::string name, role, tenant;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = tokens->add_subcommand("create", "issue a token; its secret is shown once");
  cmd->add_option("--name", a->name, "what the token is for")->required();
  cmd->add_option("--role", a->role, "admin|operator|technician|viewer")
      ->required()
      ->check(CLI::IsMember({"admin", "operator", "technician", "viewer"}));
  cmd->add_option("--tenant", a->tenant, "tenant id (default: yours; global admins: global)");
  cmd->callback([&ctx, a] {
    v1::CreateTokenRequest req;
    req.set_name(a->name);
    v1::Role role = v1::ROLE_UNSPECIFIED;
    v1::Role_Parse(EnumName(a->role, "ROLE_"), &role);  // CLI11 checked the value
    req.set_role(role);
    req.set_tenant_id(a->tenant);
    v1::CreateTokenResponse resp;
    if (!ctx.InvokeForTable(ctx.tokens(), &v1::TokenService::Stub::CreateToken, req, &resp)) return;
    ShowToken(ctx, resp.token());
    std::cout << "\nsecret (shown only now; store it safely):\n  " << resp.secret() << "\n";
  });
}

void AddTokensList(CLI::App* tokens, Context& ctx) {
  struct Args {
    std::string tenant;
    bool all = false;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = tokens->add_subcommand("list", "list tokens");
  cmd->add_option("--tenant", a->tenant, "tenant id (global admins only)");
  cmd->add_flag("--include-revoked", a->all, "also list revoked tokens");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListTokensRequest req;
    req.set_tenant_id(a->tenant);
    req.set_include_revoked(a->all);
    v1::ListTokensResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListTokensRequest& r,
                   v1::ListTokensResponse* out) { return ctx.tokens().ListTokens(c, r, out); };
    auto items = [](v1::ListTokensResponse& r) { return r.mutable_tokens(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table = TokenTable();
    for (const v1::Token& t : all.tokens()) AddRow(table, t);
    table.Print(std::cout);
  });
}

void AddTokensRevoke(CLI::App* tokens, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = tokens->add_subcommand("revoke", "revoke a token (takes effect at once)");
  cmd->add_option("ID", *id, "token id")->required();
  cmd->callback([&ctx, id] {
    v1::RevokeTokenRequest req;
    req.set_id(*id);
    v1::Token t;
    if (ctx.Check(ctx.Invoke(ctx.tokens(), &v1::TokenService::Stub::RevokeToken, req, &t)))
      ShowToken(ctx, t);
  });
}

void AddTokensWhoami(CLI::App* tokens, Context& ctx) {
  CLI::App* cmd = tokens->add_subcommand("whoami", "show the token in use: its role and tenant");
  cmd->callback([&ctx] {
    v1::Token t;
    if (ctx.Check(
            ctx.Invoke(ctx.tokens(), &v1::TokenService::Stub::WhoAmI, v1::WhoAmIRequest(), &t)))
      ShowToken(ctx, t);
  });
}

void AddTokens(CLI::App& app, Context& ctx) {
  CLI::App* tokens = app.add_subcommand("tokens", "API tokens (admins)");
  tokens->require_subcommand(1);
  AddTokensCreate(tokens, ctx);
  AddTokensList(tokens, ctx);
  AddTokensRevoke(tokens, ctx);
  AddTokensWhoami(tokens, ctx);
}

void AddAudit(CLI::App& app, Context& ctx) {
  CLI::App* audit = app.add_subcommand("audit", "the audit log");
  audit->require_subcommand(1);
  struct Args {
    std::string actor, target, since, until, tenant;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = audit->add_subcommand("list", "list audit entries, newest first");
  cmd->add_option("--actor", a->actor, "token id that acted");
  cmd->add_option("--target", a->target, "id of the changed object");
  cmd->add_option("--since", a->since, "RFC 3339 time or duration ago (2h, 7d)");
  cmd->add_option("--until", a->until, "RFC 3339 time or duration ago");
  cmd->add_option("--tenant", a->tenant, "tenant id (global admins only)");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListAuditEntriesRequest req;
    req.set_actor_id(a->actor);
    req.set_target_id(a->target);
    req.set_tenant_id(a->tenant);
    if (!a->since.empty() && !ParseWhen(ctx, "--since", a->since, req.mutable_start_time())) return;
    if (!a->until.empty() && !ParseWhen(ctx, "--until", a->until, req.mutable_end_time())) return;
    v1::ListAuditEntriesResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListAuditEntriesRequest& r,
                   v1::ListAuditEntriesResponse* out) {
      return ctx.audit().ListAuditEntries(c, r, out);
    };
    auto items = [](v1::ListAuditEntriesResponse& r) { return r.mutable_entries(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table({"TIME", "ACTOR", "ROLE", "METHOD", "TARGET", "RESULT", "SUMMARY"});
    for (const v1::AuditEntry& e : all.entries()) {
      table.Add({FormatTime(e.time()), e.actor_name() + " (" + e.actor_id() + ")",
                 RoleText(e.role()), e.method(), e.target_id().empty() ? "-" : e.target_id(),
                 e.result(), e.summary()});
    }
    table.Print(std::cout);
  });
}

}  // namespace

void AddTokenCommands(CLI::App& app, Context& ctx) {
  AddTokens(app, ctx);
  AddAudit(app, ctx);
}

}  // namespace posfleet::ctl

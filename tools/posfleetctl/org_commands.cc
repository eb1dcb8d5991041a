// posfleetctl merchants ... and tenants ...

#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {
namespace {

template <typename Msg>
void PrintOne(Context& ctx, const Msg& m, Table table) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(m) << "\n";
  } else {
    table.Print(std::cout);
  }
}

Table MerchantTable() { return Table({"ID", "NAME", "MID", "COUNTRY", "TENANT", "CREATED"}); }
void AddRow(Table& t, const v1::Merchant& m) {
  t.Add({m.id(), m.name(), m.mid(), m.country().empty() ? "-" : m.country(), m.tenant_id(),
         FormatTime(m.create_time())});
}
Table TenantTable() { return Table({"ID", "NAME", "CREATED"}); }
void AddRow(Table& t, const v1::Tenant& x) {
  t.Add({x.id(), x.name(), FormatTime(x.create_time())});
}

template <typename Msg>
void Show(Context& ctx, const Msg& m) {
  Table table = [] {
    if constexpr (std::is_same_v<Msg, v1::Merchant>)
      return MerchantTable();
    else
      return TenantTable();
  }();
  AddRow(table, m);
  PrintOne(ctx, m, table);
}

void AddMerchantsList(CLI::App* merchants, Context& ctx) {
  struct Args {
    std::string tenant;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = merchants->add_subcommand("list", "list merchants");
  cmd->add_option("--tenant", a->tenant, "tenant id (global admins only)");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListMerchantsRequest req;
    req.set_tenant_id(a->tenant);
    v1::ListMerchantsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListMerchantsRequest& r,
                   v1::ListMerchantsResponse* out) {
      return ctx.merchants().ListMerchants(c, r, out);
    };
    auto items = [](v1::ListMerchantsResponse& r) { return r.mutable_merchants(); };
    if (!FetchPages(ctx, req, a->limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table = MerchantTable();
    for (const v1::Merchant& m : all.merchants()) AddRow(table, m);
    table.Print(std::cout);
  });
}

void AddMerchantsGet(CLI::App* merchants, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = merchants->add_subcommand("get", "show one merchant");
  cmd->add_option("ID", *id, "merchant id")->required();
  cmd->callback([&ctx, id] {
    v1::GetMerchantRequest req;
    req.set_id(*id);
    v1::Merchant m;
    if (ctx.Check(ctx.Invoke(ctx.merchants(), &v1::MerchantService::Stub::GetMerchant, req, &m)))
      Show(ctx, m);
  });
}

void AddMerchantsCreate(CLI::App* merchants, Context& ctx) {
  auto a = std::make_shared<std::array<std::string, 4>>();  // name, mid, country, tenant
  CLI::App* cmd = merchants->add_subcommand("create", "create a merchant");
  cmd->add_option("--name", (*a)[0], "merchant name")->required();
  cmd->add_option("--mid", (*a)[1], "the acquirer's merchant id (unique in the tenant)")
      ->required();
  cmd->add_option("--country", (*a)[2], "ISO 3166-1 alpha-2, e.g. DE");
  cmd->add_option("--tenant", (*a)[3], "tenant id (required for global tokens)");
  cmd->callback([&ctx, a] {
    v1::CreateMerchantRequest req;
    req.set_name((*a)[0]);
    req.set_mid((*a)[1]);
    req.set_country((*a)[2]);
    req.set_tenant_id((*a)[3]);
    v1::Merchant m;
    if (ctx.Check(ctx.Invoke(ctx.merchants(), &v1::MerchantService::Stub::CreateMerchant, req, &m)))
      Show(ctx, m);
  });
}

void AddMerchantsUpdate(CLI::App* merchants, Context& ctx) {
  struct Args {
    std::string id;
    std::optional<std::string> name, country;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = merchants->add_subcommand("update", "rename a merchant or change its country");
  cmd->add_option("ID", a->id, "merchant id")->required();
  cmd->add_option("--name", a->name, "new name");
  cmd->add_option("--country", a->country, "new country");
  cmd->callback([&ctx, a] {
    v1::UpdateMerchantRequest req;
    req.set_id(a->id);
    if (a->name) req.set_name(*a->name);
    if (a->country) req.set_country(*a->country);
    v1::Merchant m;
    if (ctx.Check(ctx.Invoke(ctx.merchants(), &v1::MerchantService::Stub::UpdateMerchant, req, &m)))
      Show(ctx, m);
  });
}

void AddMerchantsDelete(CLI::App* merchants, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = merchants->add_subcommand("delete", "delete a merchant without terminals");
  cmd->add_option("ID", *id, "merchant id")->required();
  cmd->callback([&ctx, id] {
    v1::DeleteMerchantRequest req;
    req.set_id(*id);
    google::protobuf::Empty empty;
    if (ctx.Check(
            ctx.Invoke(ctx.merchants(), &v1::MerchantService::Stub::DeleteMerchant, req, &empty))) {
      std::cout << "deleted " << *id << "\n";
    }
  });
}

void AddMerchantCommands(CLI::App& app, Context& ctx) {
  CLI::App* merchants = app.add_subcommand("merchants", "merchants of a tenant");
  merchants->require_subcommand(1);
  AddMerchantsList(merchants, ctx);
  AddMerchantsGet(merchants, ctx);
  AddMerchantsCreate(merchants, ctx);
  AddMerchantsUpdate(merchants, ctx);
  AddMerchantsDelete(merchants, ctx);
}

void AddTenantsList(CLI::App* tenants, Context& ctx) {
  auto limit = std::make_shared<int>(100);
  CLI::App* cmd = tenants->add_subcommand("list", "list tenants");
  AddLimit(cmd, limit.get());
  cmd->callback([&ctx, limit] {
    v1::ListTenantsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListTenantsRequest& r,
                   v1::ListTenantsResponse* out) { return ctx.tenants().ListTenants(c, r, out); };
    auto items = [](v1::ListTenantsResponse& r) { return r.mutable_tenants(); };
    if (!FetchPages(ctx, v1::ListTenantsRequest(), *limit, rpc, items, &all)) return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(all) << "\n";
      return;
    }
    Table table = TenantTable();
    for (const v1::Tenant& t : all.tenants()) AddRow(table, t);
    table.Print(std::cout);
  });
}

void AddTenantsGet(CLI::App* tenants, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = tenants->add_subcommand("get", "show one tenant");
  cmd->add_option("ID", *id, "tenant id")->required();
  cmd->callback([&ctx, id] {
    v1::GetTenantRequest req;
    req.set_id(*id);
    v1::Tenant t;
    if (ctx.Check(ctx.Invoke(ctx.tenants(), &v1::TenantService::Stub::GetTenant, req, &t)))
      Show(ctx, t);
  });
}

void AddTenantsCreate(CLI::App* tenants, Context& ctx) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = tenants->add_subcommand("create", "create a tenant");
  cmd->add_option("NAME", *name, "unique name")->required();
  cmd->callback([&ctx, name] {
    v1::CreateTenantRequest req;
    req.set_name(*name);
    v1::Tenant t;
    if (ctx.Check(ctx.Invoke(ctx.tenants(), &v1::TenantService::Stub::CreateTenant, req, &t)))
      Show(ctx, t);
  });
}

void AddTenantsRename(CLI::App* tenants, Context& ctx) {
  auto a = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = tenants->add_subcommand("rename", "rename a tenant");
  cmd->add_option("ID", a->first, "tenant id")->required();
  cmd->add_option("NAME", a->second, "new name")->required();
  cmd->callback([&ctx, a] {
    v1::UpdateTenantRequest req;
    req.set_id(a->first);
    req.set_name(a->second);
    v1::Tenant t;
    if (ctx.Check(ctx.Invoke(ctx.tenants(), &v1::TenantService::Stub::UpdateTenant, req, &t)))
      Show(ctx, t);
  });
}

void AddTenantsDelete(CLI::App* tenants, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = tenants->add_subcommand("delete", "delete a tenant without merchants");
  cmd->add_option("ID", *id, "tenant id")->required();
  cmd->callback([&ctx, id] {
    v1::DeleteTenantRequest req;
    req.set_id(*id);
    google::protobuf::Empty empty;
    if (ctx.Check(ctx.Invoke(ctx.tenants(), &v1::TenantService::Stub::DeleteTenant, req, &empty))) {
      std::cout << "deleted " << *id << "\n";
    }
  });
}

void AddTenantCommands(CLI::App& app, Context& ctx) {
  CLI::App* tenants =
      app.add_subcommand("tenants", "tenants (acquirers); changes need a global admin");
  tenants->require_subcommand(1);
  AddTenantsList(tenants, ctx);
  AddTenantsGet(tenants, ctx);
  AddTenantsCreate(tenants, ctx);
  AddTenantsRename(tenants, ctx);
  AddTenantsDelete(tenants, ctx);
}

}  // namespace

void AddOrgCommands(CLI::App& app, Context& ctx) {
  AddMerchantCommands(app, ctx);
  AddTenantCommands(app, ctx);
}

}  // namespace posfleet::ctl

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/env.h"
#include "google/protobuf/util/json_util.h"
#include "tools/posfleetctl/commands.h"
#include "tools/posfleetctl/csv.h"

namespace posfleet::ctl {
namespace {

std::string StateText(v1::TerminalState s) {
  return EnumText(v1::TerminalState_Name(s), "TERMINAL_STATE_");
}

std::string LabelText(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

// "online", "offline 3h", or "never" (not connected yet).
std::string PresenceText(const v1::Terminal& t) {
  if (!t.has_presence()) return "never";
  if (t.presence().online()) return "online";
  const absl::Duration since =
      RealEnv().Now() - absl::FromUnixSeconds(t.presence().change_time().seconds());
  const int64_t minutes = absl::ToInt64Minutes(since);
  if (minutes < 60) return absl::StrCat("offline ", minutes, "m");
  if (minutes < 48 * 60) return absl::StrCat("offline ", minutes / 60, "h");
  return absl::StrCat("offline ", minutes / (24 * 60), "d");
}

void PrintTerminals(Context& ctx, const v1::ListTerminalsResponse& list) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(list) << "\n";
    return;
  }
  Table table(
      {"ID", "SERIAL", "VENDOR", "MODEL", "MERCHANT", "TID", "STATE", "PRESENCE", "LABELS"});
  for (const v1::Terminal& t : list.terminals()) {
    table.Add({t.id(), t.serial(), t.vendor(), t.model(), t.merchant_id(), t.tid(),
               StateText(t.state()), PresenceText(t), LabelText(t.labels())});
  }
  table.Print(std::cout);
}

void PrintTerminal(Context& ctx, const v1::Terminal& t) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(t) << "\n";
    return;
  }
  Table table({"FIELD", "VALUE"});
  table.Add({"id", t.id()});
  table.Add({"state", StateText(t.state())});
  table.Add({"vendor", t.vendor()});
  table.Add({"model", t.model()});
  table.Add({"serial", t.serial()});
  table.Add({"tid", t.tid().empty() ? "-" : t.tid()});
  table.Add({"merchant", t.merchant_id()});
  table.Add({"tenant", t.tenant_id()});
  table.Add({"labels", t.labels().empty() ? "-" : LabelText(t.labels())});
  table.Add({"created", FormatTime(t.create_time())});
  table.Add({"updated", FormatTime(t.update_time())});
  table.Add({"presence", PresenceText(t)});
  if (t.has_presence()) {
    const v1::Presence& p = t.presence();
    table.Add({"last seen", FormatTime(p.last_seen())});
    table.Add({"agent", p.agent_version().empty() ? "-" : p.agent_version()});
    if (p.has_health()) {
      const v1::TerminalHealth& h = p.health();
      table.Add({"battery",
                 h.battery_percent() < 0
                     ? "no battery"
                     : absl::StrCat(h.battery_percent(), "%", h.charging() ? " (charging)" : "")});
      table.Add({"temperature", absl::StrCat(h.temperature_c(), " C")});
      table.Add({"paper", h.paper().empty() ? "-" : h.paper()});
      table.Add({"network",
                 absl::StrCat(h.network().empty() ? "-" : h.network(),
                              h.signal_dbm() ? absl::StrCat(" ", h.signal_dbm(), " dBm") : "")});
      table.Add({"storage free", absl::StrCat(h.storage_free_bytes() / (1024 * 1024), " MiB")});
      table.Add({"uptime", absl::FormatDuration(absl::Seconds(h.uptime_seconds()))});
      std::map<std::string, std::string> versions(h.versions().begin(), h.versions().end());
      table.Add({"versions",
                 versions.empty() ? "-" : absl::StrJoin(versions, ", ", absl::PairFormatter(" "))});
    }
  }
  table.Print(std::cout);
}

void PrintHistory(Context& ctx, const v1::ListHealthHistoryResponse& history) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(history) << "\n";
    return;
  }
  Table table({"TIME", "SESSION", "BATTERY", "TEMP", "PAPER", "NETWORK", "STORAGE FREE", "UPTIME",
               "VERSIONS"});
  for (const v1::HealthSample& s : history.samples()) {
    const v1::TerminalHealth& h = s.health();
    std::map<std::string, std::string> versions(h.versions().begin(), h.versions().end());
    table.Add({FormatTime(s.time()), absl::StrCat(s.session()),
               h.battery_percent() < 0
                   ? "-"
                   : absl::StrCat(h.battery_percent(), "%", h.charging() ? "+" : ""),
               absl::StrCat(h.temperature_c(), " C"), h.paper().empty() ? "-" : h.paper(),
               absl::StrCat(h.network().empty() ? "-" : h.network(),
                            h.signal_dbm() ? absl::StrCat(" ", h.signal_dbm(), " dBm") : ""),
               absl::StrCat(h.storage_free_bytes() / (1024 * 1024), " MiB"),
               absl::FormatDuration(absl::Seconds(h.uptime_seconds())),
               versions.empty() ? "-" : absl::StrJoin(versions, ",", absl::PairFormatter("="))});
  }
  table.Print(std::cout);
  if (history.samples().empty()) std::cout << "(no samples in this range)\n";
}

// "key=value" sets a label, "key-" removes it (as in kubectl label).
bool ParseLabelArgs(Context& ctx, const std::vector<std::string>& args,
                    v1::UpdateTerminalRequest* req) {
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      (*req->mutable_set_labels())[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (!arg.empty() && arg.back() == '-') {
      req->add_remove_labels(arg.substr(0, arg.size() - 1));
    } else {
      ctx.UsageError(absl::StrCat("label \"", arg, "\": use key=value to set or key- to remove"));
      return false;
    }
  }
  return true;
}

// One line per watch event: what changed, in the words of `terminals get`.
std::string EventLine(const v1::TerminalEvent& e) {
  const v1::Terminal& t = e.terminal();
  std::string line =
      absl::StrCat(absl::FormatTime("%H:%M:%S", RealEnv().Now(), absl::LocalTimeZone()), "  ",
                   t.id(), "  ", t.serial(), "  ", PresenceText(t));
  if (t.has_presence() && t.presence().has_health()) {
    const v1::TerminalHealth& h = t.presence().health();
    if (h.battery_percent() >= 0) {
      absl::StrAppend(&line, "  battery ", h.battery_percent(), "%", h.charging() ? "+" : "");
    }
    if (!h.paper().empty()) absl::StrAppend(&line, "  paper ", h.paper());
    if (h.signal_dbm() != 0) absl::StrAppend(&line, "  signal ", h.signal_dbm(), " dBm");
    absl::StrAppend(&line, "  ", h.temperature_c(), " C");
  }
  return line;
}

void Watch(Context& ctx, const v1::WatchTerminalsRequest& req, int64_t stop_after_seconds) {
  if (!ctx.Check(Context::GuardRequest(req))) return;
  auto call = std::make_unique<grpc::ClientContext>();
  if (!ctx.options.token.empty()) call->AddMetadata("authorization", "Bearer " + ctx.options.token);
  if (stop_after_seconds > 0) {
    call->set_deadline(NetworkDeadline(absl::Seconds(stop_after_seconds)));
  }
  std::unique_ptr<grpc::ClientReader<v1::TerminalEvent>> reader =
      ctx.terminals().WatchTerminals(call.get(), req);
  v1::TerminalEvent event;
  while (reader->Read(&event)) {
    if (ctx.format() == Format::kJson) {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(event, &json, options);
      std::cout << json << std::endl;
    } else if (event.kind() == v1::TerminalEvent::KIND_SYNCED) {
      std::cout << "-- watching for changes (Ctrl-C to stop)" << std::endl;
    } else {
      std::cout << EventLine(event) << std::endl;
    }
  }
  grpc::Status status = reader->Finish();
  // --for ends the watch with DEADLINE_EXCEEDED: that is success.
  if (stop_after_seconds > 0 && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return;
  ctx.Check(status);
}

void PrintSummary(Context& ctx, const v1::FleetSummary& s) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(s) << "\n";
    return;
  }
  std::cout << "terminals   " << s.terminals() << "\n";
  std::cout << "presence    online " << s.online() << ", offline " << s.offline() << ", never seen "
            << s.never_seen() << "\n";
  std::cout << "health      battery low " << s.battery_low() << ", paper low " << s.paper_low()
            << ", paper out " << s.paper_out() << "\n\n";
  Table states({"STATE", "TERMINALS"});
  for (const auto& [state, n] :
       std::map<std::string, int64_t>(s.by_state().begin(), s.by_state().end())) {
    states.Add({state, absl::StrCat(n)});
  }
  states.Print(std::cout);
  std::cout << "\n";
  Table models({"MODEL", "TERMINALS"});
  for (const auto& [model, n] :
       std::map<std::string, int64_t>(s.by_model().begin(), s.by_model().end())) {
    models.Add({model, absl::StrCat(n)});
  }
  models.Print(std::cout);
  if (s.software_size() > 0) {
    std::cout << "\n";
    Table software({"COMPONENT", "VERSION", "TERMINALS"});
    for (const v1::SoftwareCount& c : s.software()) {
      software.Add({c.component(), c.version(), absl::StrCat(c.terminals())});
    }
    software.Print(std::cout);
  }
}

void AddTerminalsList(CLI::App* terminals, Context& ctx) {
  struct Args {
    v1::ListTerminalsRequest req;
    std::string merchant, selector, tenant, state, offline_for, paper, software;
    bool online = false, offline = false;
    int battery_below = 0;
    int limit = 100;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand("list", "list terminals, filtered");
  cmd->add_option("--merchant", a->merchant, "merchant id");
  cmd->add_option("--state", a->state, "provisioned|active|suspended|retired")
      ->check(CLI::IsMember({"provisioned", "active", "suspended", "retired"}));
  cmd->add_option("-l,--selector", a->selector,
                  "label selector, e.g. 'region=north,model in (A920,A80),!test' (vendor and model "
                  "match the terminal's fields unless a label of that name is set)");
  cmd->add_option("--tenant", a->tenant, "tenant id (global admins only)");
  auto* online = cmd->add_flag("--online", a->online, "only terminals online now");
  auto* offline = cmd->add_flag("--offline", a->offline, "only terminals not online now");
  cmd->add_option("--offline-for", a->offline_for,
                  "only terminals offline for longer than this, e.g. 1h, 30m, 7d")
      ->excludes(online);
  online->excludes(offline);
  cmd->add_option("--battery-below", a->battery_below,
                  "only terminals whose battery is below this percentage")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--paper", a->paper, "only terminals with paper ok|low|out|none")
      ->check(CLI::IsMember({"ok", "low", "out", "none"}));
  cmd->add_option("--software", a->software,
                  "component=version, or component!=version for terminals not on it");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListTerminalsRequest req;
    req.set_merchant_id(a->merchant);
    req.set_label_selector(a->selector);
    req.set_tenant_id(a->tenant);
    v1::TerminalState state = v1::TERMINAL_STATE_UNSPECIFIED;
    if (!a->state.empty()) {
      // CLI11 has already checked the value against the known states.
      v1::TerminalState_Parse(EnumName(a->state, "TERMINAL_STATE_"), &state);
    }
    req.set_state(state);
    if (a->online) req.set_online(true);
    if (a->offline) req.set_online(false);
    if (!a->offline_for.empty()) {
      absl::Duration d;
      std::string text = a->offline_for;
      if (text.back() == 'd') text = absl::StrCat(std::atoll(text.c_str()) * 24, "h");
      if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
        return ctx.UsageError("--offline-for: a duration such as 90m, 1h or 7d");
      }
      req.set_offline_for_seconds(absl::ToInt64Seconds(d));
    }
    req.set_battery_below(a->battery_below);
    req.set_paper(a->paper);
    req.set_software(a->software);
    v1::ListTerminalsResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListTerminalsRequest& r,
                   v1::ListTerminalsResponse* out) {
      return ctx.terminals().ListTerminals(c, r, out);
    };
    auto items = [](v1::ListTerminalsResponse& r) { return r.mutable_terminals(); };
    if (FetchPages(ctx, req, a->limit, rpc, items, &all)) PrintTerminals(ctx, all);
  });
}

void AddTerminalsWatch(CLI::App* terminals, Context& ctx) {
  struct Args {
    v1::WatchTerminalsRequest req;
    std::string selector;
    bool changes_only = false;
    int64_t stop_after = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand(
      "watch", "show terminals as they go online or offline and as their health changes");
  cmd->add_option("SELECTOR", a->selector, "label selector, e.g. 'region=north' (default: all)");
  cmd->add_option("--merchant", *a->req.mutable_merchant_id(), "merchant id");
  cmd->add_option("--tenant", *a->req.mutable_tenant_id(), "tenant id (global admins only)");
  cmd->add_flag("--changes-only", a->changes_only, "do not list the current state first");
  cmd->add_option("--for", a->stop_after, "stop after this many seconds (default: until Ctrl-C)")
      ->check(CLI::PositiveNumber);
  cmd->callback([&ctx, a] {
    v1::WatchTerminalsRequest req = a->req;
    req.set_label_selector(a->selector);
    req.set_snapshot(!a->changes_only);
    Watch(ctx, req, a->stop_after);
  });
}

void AddTerminalsGet(CLI::App* terminals, Context& ctx) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = terminals->add_subcommand("get", "show one terminal");
  cmd->add_option("ID", *id, "terminal id")->required();
  cmd->callback([&ctx, id] {
    v1::GetTerminalRequest req;
    req.set_id(*id);
    v1::Terminal t;
    if (ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::GetTerminal, req, &t)))
      PrintTerminal(ctx, t);
  });
}

void AddTerminalsHistory(CLI::App* terminals, Context& ctx) {
  struct Args {
    std::string id, since, until;
    int limit = 50;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand(
      "history", "a terminal's health over time (sampled heartbeats), newest first");
  cmd->add_option("ID", a->id, "terminal id")->required();
  cmd->add_option("--since", a->since, "RFC 3339 time or duration ago (2h, 7d)");
  cmd->add_option("--until", a->until, "RFC 3339 time or duration ago");
  AddLimit(cmd, &a->limit);
  cmd->callback([&ctx, a] {
    v1::ListHealthHistoryRequest req;
    req.set_id(a->id);
    if (!a->since.empty() && !ParseWhen(ctx, "--since", a->since, req.mutable_start_time())) {
      return;
    }
    if (!a->until.empty() && !ParseWhen(ctx, "--until", a->until, req.mutable_end_time())) {
      return;
    }
    v1::ListHealthHistoryResponse all;
    auto rpc = [&](grpc::ClientContext* c, const v1::ListHealthHistoryRequest& r,
                   v1::ListHealthHistoryResponse* out) {
      return ctx.terminals().ListHealthHistory(c, r, out);
    };
    auto items = [](v1::ListHealthHistoryResponse& r) { return r.mutable_samples(); };
    if (FetchPages(ctx, req, a->limit, rpc, items, &all)) PrintHistory(ctx, all);
  });
}

void AddTerminalsCreate(CLI::App* terminals, Context& ctx) {
  struct Args {
    std::string merchant, vendor, model, serial, tid;
    std::vector<std::string> labels;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand("create", "provision one terminal");
  cmd->add_option("--merchant", a->merchant, "merchant id")->required();
  cmd->add_option("--vendor", a->vendor, "e.g. PAX")->required();
  cmd->add_option("--model", a->model, "e.g. A920")->required();
  cmd->add_option("--serial", a->serial, "serial number")->required();
  cmd->add_option("--tid", a->tid, "payment terminal id");
  cmd->add_option("--label", a->labels, "key=value (repeatable)");
  cmd->callback([&ctx, a] {
    v1::CreateTerminalRequest req;
    v1::TerminalSpec* spec = req.mutable_terminal();
    spec->set_merchant_id(a->merchant);
    spec->set_vendor(a->vendor);
    spec->set_model(a->model);
    spec->set_serial(a->serial);
    spec->set_tid(a->tid);
    for (const std::string& l : a->labels) {
      const size_t eq = l.find('=');
      if (eq == std::string::npos) return ctx.UsageError("--label takes key=value");
      (*spec->mutable_labels())[l.substr(0, eq)] = l.substr(eq + 1);
    }
    v1::Terminal t;
    if (ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::CreateTerminal, req, &t)))
      PrintTerminal(ctx, t);
  });
}

void AddTerminalsLabel(CLI::App* terminals, Context& ctx) {
  struct Args {
    std::string id;
    std::vector<std::string> changes;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand("label", "set (key=value) or remove (key-) labels");
  cmd->add_option("ID", a->id, "terminal id")->required();
  cmd->add_option("CHANGES", a->changes, "key=value or key-")->required();
  cmd->callback([&ctx, a] {
    v1::UpdateTerminalRequest req;
    req.set_id(a->id);
    if (!ParseLabelArgs(ctx, a->changes, &req)) return;
    v1::Terminal t;
    if (ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::UpdateTerminal, req, &t)))
      PrintTerminal(ctx, t);
  });
}

void AddTerminalsUpdate(CLI::App* terminals, Context& ctx) {
  struct Args {
    std::string id;
    std::optional<std::string> merchant, tid;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand(
      "update", "move a terminal to another merchant of its tenant, or change its TID");
  cmd->add_option("ID", a->id, "terminal id")->required();
  cmd->add_option("--merchant", a->merchant, "new merchant id");
  cmd->add_option("--tid", a->tid, "new payment terminal id");
  cmd->callback([&ctx, a] {
    v1::UpdateTerminalRequest req;
    req.set_id(a->id);
    if (a->merchant) req.set_merchant_id(*a->merchant);
    if (a->tid) req.set_tid(*a->tid);
    v1::Terminal t;
    if (ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::UpdateTerminal, req, &t)))
      PrintTerminal(ctx, t);
  });
}

void AddTerminalsActivationCode(CLI::App* terminals, Context& ctx) {
  struct Args {
    std::string id;
    int ttl_minutes = 24 * 60;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = terminals->add_subcommand(
      "activation-code",
      "issue a one-time code to type into the terminal's agent (replaces any earlier code)");
  cmd->add_option("ID", a->id, "terminal id")->required();
  cmd->add_option("--ttl", a->ttl_minutes, "minutes the code stays valid (5 to 10080)")
      ->check(CLI::Range(5, 10080));
  cmd->callback([&ctx, a] {
    v1::IssueActivationCodeRequest req;
    req.set_id(a->id);
    req.set_ttl_seconds(a->ttl_minutes * 60);
    v1::ActivationCode code;
    if (!ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::IssueActivationCode, req,
                              &code)))
      return;
    if (ctx.format() == Format::kJson) {
      std::cout << ToJson(code) << "\n";
      return;
    }
    std::cout << "activation code for " << code.terminal_id() << ":  " << code.code()
              << "\nvalid until " << FormatTime(code.expire_time())
              << "; single use; shown only now\n";
  });
}

}  // namespace

void AddFleetCommands(CLI::App& app, Context& ctx) {
  CLI::App* fleet = app.add_subcommand("fleet", "the estate at a glance");
  fleet->require_subcommand(1);
  auto req = std::make_shared<v1::SummarizeFleetRequest>();
  CLI::App* cmd = fleet->add_subcommand(
      "summary", "counts by state, presence, model and software version, and health problems");
  cmd->add_option("-l,--selector", *req->mutable_label_selector(), "label selector");
  cmd->add_option("--merchant", *req->mutable_merchant_id(), "merchant id");
  cmd->add_option("--tenant", *req->mutable_tenant_id(), "tenant id (global admins only)");
  cmd->callback([&ctx, req] {
    v1::FleetSummary s;
    if (ctx.Check(
            ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::SummarizeFleet, *req, &s)))
      PrintSummary(ctx, s);
  });
}

void AddTerminalCommands(CLI::App& app, Context& ctx) {
  CLI::App* terminals = app.add_subcommand("terminals", "find, provision and manage terminals");
  terminals->require_subcommand(1);

  AddTerminalsList(terminals, ctx);
  AddTerminalsWatch(terminals, ctx);
  AddTerminalsGet(terminals, ctx);
  AddTerminalsHistory(terminals, ctx);
  AddTerminalsCreate(terminals, ctx);
  AddTerminalsImport(terminals, ctx);
  AddTerminalsLabel(terminals, ctx);
  AddTerminalsUpdate(terminals, ctx);
  AddTerminalsActivationCode(terminals, ctx);
  using Rpc = grpc::Status (v1::TerminalService::Stub::*)(
      grpc::ClientContext*, const v1::LifecycleRequest&, v1::Terminal*);
  struct Verb {
    const char* name;
    const char* help;
    Rpc rpc;
  };
  const Verb verbs[] = {
      {"suspend", "suspend a terminal (a hold: it stays provisioned in the registry)",
       &v1::TerminalService::Stub::SuspendTerminal},
      {"reactivate", "lift a suspension", &v1::TerminalService::Stub::ReactivateTerminal},
      {"retire", "retire a terminal for good (final)", &v1::TerminalService::Stub::RetireTerminal},
  };
  for (const Verb& verb : verbs) {
    struct Args {
      std::string id, reason;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = terminals->add_subcommand(verb.name, verb.help);
    cmd->add_option("ID", a->id, "terminal id")->required();
    cmd->add_option("--reason", a->reason, "why (kept in the audit log)");
    const Rpc rpc = verb.rpc;
    cmd->callback([&ctx, a, rpc] {
      v1::LifecycleRequest req;
      req.set_id(a->id);
      req.set_reason(a->reason);
      v1::Terminal t;
      if (ctx.Check(ctx.Invoke(ctx.terminals(), rpc, req, &t))) PrintTerminal(ctx, t);
    });
  }
}

}  // namespace posfleet::ctl

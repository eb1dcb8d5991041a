// posfleet-sim: a fleet of simulated terminals in one process, each running the real agent
// library (enrollment, state directory, MQTT session, heartbeats). It provisions its terminals
// through the API (idempotently), issues their activation codes, and runs until Ctrl-C. While it
// runs, `posfleet-sim kill|freeze|revive SERIAL` and `posfleet-sim list` act on single terminals
// through its control socket. With --txns-per-minute each terminal's agent takes payment
// records as a payment app would hand them over; `posfleet-sim stats` reports what the server
// committed and the ack latency, and `posfleet-sim txn-rate` changes the rate while it runs.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/api_channel.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/txn_record.h"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "tools/sim/control.h"
#include "tools/sim/fleet.h"

namespace {

using namespace posfleet;

struct Flags {
  std::string server = "127.0.0.1:7443";         // the operators' API: terminals and codes
  std::string device_server = "127.0.0.1:7444";  // where the agents enroll (--device-listen)
  std::string server_ca;  // the API's TLS CA: provisioning and every agent's enrollment
  bool insecure_plaintext = false;
  std::string token;
  std::string tenant;
  std::string state_dir = ".posfleet/sim";
  std::string serial_prefix = "SIM";
  int terminals = 10;
  int heartbeat_seconds = 30;
  int low_battery_percent = 5;
  int paper_out_percent = 3;
  int flap_percent = 0;
  int flap_seconds = 60;
  uint64_t seed = 1;
  int ramp = 64;
  int io_threads = 2;
  double txns_per_minute = 0;  // per terminal
  std::string currency = "EUR";
  int outbox_capacity = 100000;
};

std::unique_ptr<grpc::ClientContext> Ctx(const Flags& f) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->AddMetadata("authorization", "Bearer " + f.token);
  c->set_deadline(NetworkDeadline(absl::Seconds(60)));
  return c;
}

bool Fail(const char* what, const grpc::Status& s) {
  std::cerr << "posfleet-sim: " << what << ": " << s.error_message() << "\n";
  return false;
}

// The simulator's merchant (MID "SIM") in the tenant, created on first use.
bool EnsureMerchant(const Flags& f, const std::shared_ptr<grpc::Channel>& ch, std::string* id) {
  auto merchants = v1::MerchantService::NewStub(ch);
  v1::ListMerchantsRequest list;
  list.set_tenant_id(f.tenant);
  list.set_page_size(1000);
  v1::ListMerchantsResponse page;
  if (grpc::Status s = merchants->ListMerchants(Ctx(f).get(), list, &page); !s.ok()) {
    return Fail("listing merchants", s);
  }
  for (const auto& m : page.merchants()) {
    if (m.mid() == "SIM") {
      *id = m.id();
      return true;
    }
  }
  v1::CreateMerchantRequest create;
  create.set_tenant_id(f.tenant);
  create.set_name("Simulated fleet");
  create.set_mid("SIM");
  v1::Merchant m;
  if (grpc::Status s = merchants->CreateMerchant(Ctx(f).get(), create, &m); !s.ok()) {
    return Fail("creating the simulator's merchant", s);
  }
  *id = m.id();
  return true;
}

// Provisions the terminals (idempotent by vendor+serial) and describes one agent for each;
// terminals that never enrolled get a fresh activation code. False after reporting an error.
bool Provision(const Flags& f, const std::shared_ptr<grpc::Channel>& ch,
               std::vector<sim::SimTerminalSpec>* specs) {
  std::string merchant;
  if (!EnsureMerchant(f, ch, &merchant)) return false;
  auto terminals = v1::TerminalService::NewStub(ch);
  std::vector<std::string> ids(f.terminals), serials(f.terminals);
  for (int start = 0; start < f.terminals; start += 1000) {
    v1::BatchCreateTerminalsRequest req;
    for (int i = start; i < std::min(f.terminals, start + 1000); ++i) {
      serials[i] = absl::StrFormat("%s-%06d", f.serial_prefix, i + 1);
      v1::TerminalSpec* s = req.add_terminals();
      s->set_merchant_id(merchant);
      s->set_vendor("SIM");
      s->set_model("SIM-1");
      s->set_serial(serials[i]);
      (*s->mutable_labels())["sim"] = "yes";
      static const char* const kRegions[] = {"north", "south", "east", "west"};
      (*s->mutable_labels())["region"] = kRegions[i % 4];
    }
    v1::BatchCreateTerminalsResponse resp;
    if (grpc::Status s = terminals->BatchCreateTerminals(Ctx(f).get(), req, &resp); !s.ok()) {
      return Fail("provisioning terminals", s);
    }
    for (const auto& r : resp.results()) {
      if (r.outcome() == v1::BatchCreateResult::OUTCOME_FAILED) {
        std::cerr << "posfleet-sim: " << serials[start + r.index()] << ": " << r.error() << "\n";
        return false;
      }
      ids[start + r.index()] = r.terminal_id();
    }
  }
  std::mt19937_64 rng(f.seed);
  for (int i = 0; i < f.terminals; ++i) {
    sim::SimTerminalSpec spec;
    spec.serial = serials[i];
    spec.terminal_id = ids[i];
    agent::AgentOptions& o = spec.options;
    o.state_dir = f.state_dir + "/" + serials[i];
    o.server = f.device_server;
    o.server_ca = f.server_ca;
    o.insecure_plaintext_for_development = f.insecure_plaintext;
    o.vendor = "SIM";
    o.serial = serials[i];
    o.heartbeat_interval = absl::Seconds(f.heartbeat_seconds);
    if (access((o.state_dir + "/identity").c_str(), F_OK) != 0) {
      v1::IssueActivationCodeRequest req;
      req.set_id(ids[i]);
      v1::ActivationCode code;
      if (grpc::Status s = terminals->IssueActivationCode(Ctx(f).get(), req, &code); !s.ok()) {
        return Fail(("activation code for " + serials[i]).c_str(), s);
      }
      o.activation_code = code.code();
    }
    spec.behaviour = {static_cast<int>(rng() % 100) < f.low_battery_percent,
                      static_cast<int>(rng() % 100) < f.paper_out_percent};
    spec.flaps = static_cast<int>(rng() % 100) < f.flap_percent;
    spec.seed = f.seed * 1000003 + static_cast<uint64_t>(i);
    spec.mid = "SIM";
    specs->push_back(std::move(spec));
  }
  return true;
}

int Run(const Flags& f) {
  if (f.token.empty()) {
    std::cerr << "posfleet-sim: --token (or POSFLEET_TOKEN) is required\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!f.server_ca.empty()) {
    std::ifstream in(f.server_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  } else if (f.insecure_plaintext) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    std::cerr << "posfleet-sim: --server-ca (or POSFLEET_TLS_CA) is required: its terminals enroll "
                 "only with a server they authenticate\n";
    return 2;
  }
  auto ch = ApiChannel(f.server, creds, 64 << 20);
  std::vector<sim::SimTerminalSpec> specs;
  if (!Provision(f, ch, &specs)) return 1;
  std::system(("mkdir -p '" + f.state_dir + "'").c_str());

  sim::SimFleet fleet(std::move(specs), f.io_threads, static_cast<uint64_t>(f.outbox_capacity),
                      f.currency);
  sim::SimControlService control(fleet);
  std::unique_ptr<grpc::Server> control_server = sim::ServeControl(control, f.state_dir);
  if (!control_server) return 1;
  absl::Notification stop;
  std::thread waiter([&] {
    WaitForTerminationSignal();
    stop.Notify();
  });
  waiter.detach();
  std::cout << "posfleet-sim: " << fleet.size() << " terminals starting (serials "
            << f.serial_prefix << "-000001...); control socket " << sim::ControlSocket(f.state_dir)
            << "; Ctrl-C stops them" << std::endl;
  std::thread starter([&] { fleet.Start(f.ramp); });
  fleet.SetTransactionRate(f.txns_per_minute * f.terminals / 60.0);
  absl::Time next_flap = RealEnv().Now() + absl::Seconds(f.flap_seconds);
  while (!RealEnv().WaitForNotification(stop, absl::Seconds(10))) {
    std::cout << "posfleet-sim: " << fleet.online() << "/" << fleet.size() << " online";
    if (const sim::SimTxnStats t = fleet.TxnStats(false); t.recorded + t.refused > 0) {
      std::cout << "; transactions recorded " << t.recorded << ", committed " << t.committed
                << ", waiting in outboxes " << t.backlog << ", refused " << t.refused;
    }
    std::cout << std::endl;
    if (RealEnv().Now() >= next_flap) {
      fleet.Flap();
      next_flap = RealEnv().Now() + absl::Seconds(f.flap_seconds);
    }
  }
  fleet.StopStarting();
  starter.join();
  control_server->Shutdown();
  unlink(sim::ControlSocket(f.state_dir).c_str());
  return fleet.failed() > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  posfleet::BlockTerminationSignals();
  posfleet::DisableMutexDeadlockDetection();

  Flags f;
  CLI::App app{"posfleet-sim: many simulated terminals, each a real agent, in one process"};
  app.require_subcommand(0, 1);
  app.add_option("--state-dir", f.state_dir,
                 "one agent state directory per terminal below it, and the control socket");
  app.add_option("--server", f.server, "posfleet-server's API address (its --listen)")
      ->envname("POSFLEET_SERVER");
  app.add_option("--device-server", f.device_server,
                 "posfleet-server's address for terminals (its --device-listen)")
      ->envname("POSFLEET_DEVICE_SERVER");
  app.add_option("--server-ca", f.server_ca, "PEM CA bundle of the server's TLS certificate")
      ->envname("POSFLEET_TLS_CA")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure-plaintext-enrollment-for-development", f.insecure_plaintext,
               "talk plaintext gRPC to the server, and enroll so");
  app.add_option("--token", f.token, "API token allowed to create terminals and codes")
      ->envname("POSFLEET_TOKEN");
  app.add_option("--tenant", f.tenant, "tenant id (required with a global token)");
  app.add_option("--terminals", f.terminals, "how many terminals")->check(CLI::Range(1, 20000));
  app.add_option("--heartbeat-interval", f.heartbeat_seconds, "seconds")
      ->check(CLI::Range(1, 3600));
  app.add_option("--serial-prefix", f.serial_prefix, "serials are PREFIX-000001 ...");
  app.add_option("--low-battery-percent", f.low_battery_percent)->check(CLI::Range(0, 100));
  app.add_option("--paper-out-percent", f.paper_out_percent)->check(CLI::Range(0, 100));
  app.add_option("--flap-percent", f.flap_percent,
                 "terminals whose connection drops every --flap-seconds")
      ->check(CLI::Range(0, 100));
  app.add_option("--flap-seconds", f.flap_seconds)->check(CLI::Range(5, 86400));
  app.add_option("--seed", f.seed, "random seed for behaviours");
  app.add_option("--ramp", f.ramp, "agents enrolling or connecting at once")
      ->check(CLI::Range(1, 10000));
  app.add_option("--io-threads", f.io_threads, "threads driving the terminals' MQTT connections")
      ->check(CLI::Range(1, 64));
  app.add_option("--txns-per-minute", f.txns_per_minute,
                 "payment records per terminal per minute (0: none; posfleet-sim txn-rate changes "
                 "it while running)")
      ->check(CLI::Range(0.0, 60000.0));
  app.add_option("--currency", f.currency, "ISO 4217 currency of the records")
      ->check([](const std::string& c) {
        return KnownCurrency(c) ? std::string() : "not an ISO 4217 currency code: " + c;
      });
  app.add_option("--outbox-capacity", f.outbox_capacity, "records each terminal's outbox holds")
      ->check(CLI::Range(1, 10000000));
  std::string ref;
  std::vector<CLI::App*> verbs;
  for (const auto& [verb, help] : std::vector<std::pair<std::string, std::string>>{
           {"kill", "drop a running terminal's connection without a goodbye (its Will fires)"},
           {"freeze", "keep a terminal connected but stop its heartbeats"},
           {"revive", "start a killed terminal again, or unfreeze a frozen one"}}) {
    CLI::App* cmd = app.add_subcommand(verb, help);
    cmd->add_option("TERMINAL", ref, "serial (SIM-000042) or terminal id")->required();
    verbs.push_back(cmd);
  }
  verbs.push_back(app.add_subcommand("list", "the running simulator's terminals and states"));
  bool reset = false;
  CLI::App* stats = app.add_subcommand(
      "stats", "the running simulator's transactions: recorded, committed, backlog, ack latency");
  stats->add_flag("--reset", reset, "start a new latency window after printing");
  double rate = 0;
  CLI::App* txn_rate =
      app.add_subcommand("txn-rate", "change the running simulator's transaction rate");
  txn_rate->add_option("PER_SECOND", rate, "records per second across the fleet (0: stop)")
      ->required()
      ->check(CLI::Range(0.0, 1e6));
  CLI11_PARSE(app, argc, argv);
  if (stats->parsed()) return sim::StatsCommand(f.state_dir, reset);
  if (txn_rate->parsed()) return sim::TxnRateCommand(f.state_dir, rate);
  for (CLI::App* cmd : verbs) {
    if (cmd->parsed()) return sim::ControlCommand(cmd->get_name(), ref, f.state_dir);
  }
  return Run(f);
}

// posfleet-sim: a fleet of simulated terminals in one process, each running the real agent
// library (enrollment, state directory, MQTT session, heartbeats). It provisions its terminals
// through the API (idempotently), issues their activation codes, and runs until Ctrl-C.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "agent/agent.h"
#include "common/logging.h"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "tools/sim/sim_health.h"

namespace {

using namespace posfleet;

struct Flags {
  std::string server = "127.0.0.1:7443";
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
};

std::unique_ptr<grpc::ClientContext> Ctx(const Flags& f) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->AddMetadata("authorization", "Bearer " + f.token);
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
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

}  // namespace

int main(int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Flags f;
  CLI::App app{"posfleet-sim: many simulated terminals, each a real agent, in one process"};
  app.add_option("--server", f.server, "posfleet-server gRPC address")->envname("POSFLEET_SERVER");
  app.add_option("--token", f.token, "API token allowed to create terminals and codes")
      ->envname("POSFLEET_TOKEN")
      ->required();
  app.add_option("--tenant", f.tenant, "tenant id (required with a global token)");
  app.add_option("--terminals", f.terminals, "how many terminals")->check(CLI::Range(1, 20000));
  app.add_option("--heartbeat-interval", f.heartbeat_seconds, "seconds")
      ->check(CLI::Range(1, 3600));
  app.add_option("--state-dir", f.state_dir, "one agent state directory per terminal below it");
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
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto ch = grpc::CreateCustomChannel(f.server, grpc::InsecureChannelCredentials(), args);
  std::string merchant;
  if (!EnsureMerchant(f, ch, &merchant)) return 1;

  // Provision (idempotent by vendor+serial) and collect the terminal ids.
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
      Fail("provisioning terminals", s);
      return 1;
    }
    for (const auto& r : resp.results()) {
      if (r.outcome() == v1::BatchCreateResult::OUTCOME_FAILED) {
        std::cerr << "posfleet-sim: " << serials[start + r.index()] << ": " << r.error() << "\n";
        return 1;
      }
      ids[start + r.index()] = r.terminal_id();
    }
  }
  std::system(("mkdir -p " + f.state_dir).c_str());

  // One agent per terminal; terminals that never enrolled get a fresh activation code.
  std::mt19937_64 rng(f.seed);
  std::vector<std::unique_ptr<sim::SimHealth>> health;
  std::vector<std::unique_ptr<agent::Agent>> agents;
  std::vector<bool> flaps;
  for (int i = 0; i < f.terminals; ++i) {
    agent::AgentOptions o;
    o.state_dir = f.state_dir + "/" + serials[i];
    o.server = f.server;
    o.vendor = "SIM";
    o.serial = serials[i];
    o.heartbeat_interval = absl::Seconds(f.heartbeat_seconds);
    if (access((o.state_dir + "/identity").c_str(), F_OK) != 0) {
      v1::IssueActivationCodeRequest req;
      req.set_id(ids[i]);
      v1::ActivationCode code;
      if (grpc::Status s = terminals->IssueActivationCode(Ctx(f).get(), req, &code); !s.ok()) {
        std::cerr << "posfleet-sim: " << serials[i] << ": " << s.error_message() << "\n";
        continue;
      }
      o.activation_code = code.code();
    }
    sim::Behaviour b{static_cast<int>(rng() % 100) < f.low_battery_percent,
                     static_cast<int>(rng() % 100) < f.paper_out_percent};
    health.push_back(std::make_unique<sim::SimHealth>(f.seed * 1000003 + i, b));
    agents.push_back(std::make_unique<agent::Agent>(o, *health.back()));
    flaps.push_back(static_cast<int>(rng() % 100) < f.flap_percent);
  }

  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  // Ramp up: at most --ramp agents enrolling or connecting at once, as a real estate would
  // (terminals are installed over days, not in one second).
  auto starting = [&] {
    int n = 0;
    for (size_t i = 0; i < threads.size(); ++i) {
      const agent::State s = agents[i]->state();
      n += s == agent::State::kUnenrolled || s == agent::State::kEnrolling ||
           s == agent::State::kConnecting;
    }
    return n;
  };
  for (auto& a : agents) {
    while (starting() >= f.ramp) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    threads.emplace_back([&a, &failed] {
      absl::Status s = a->Run();
      if (!s.ok()) {
        ++failed;
        std::cerr << "posfleet-sim: an agent stopped: " << s.ToString() << "\n";
      }
    });
  }
  absl::Notification stop;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    stop.Notify();
  });
  signals.detach();
  std::cout << "posfleet-sim: " << agents.size() << " terminals starting (serials "
            << f.serial_prefix << "-000001...); Ctrl-C stops them" << std::endl;
  absl::Time next_flap = absl::Now() + absl::Seconds(f.flap_seconds);
  while (!stop.WaitForNotificationWithTimeout(absl::Seconds(10))) {
    int online = 0;
    for (auto& a : agents) online += a->state() == agent::State::kOnline;
    std::cout << "posfleet-sim: " << online << "/" << agents.size() << " online" << std::endl;
    if (absl::Now() >= next_flap) {
      for (size_t i = 0; i < agents.size(); ++i) {
        if (flaps[i]) agents[i]->DropConnection();
      }
      next_flap = absl::Now() + absl::Seconds(f.flap_seconds);
    }
  }
  for (auto& a : agents) a->Stop();
  for (auto& t : threads) t.join();
  return failed > 0 ? 1 : 0;
}

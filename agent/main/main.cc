// posfleet-agent: wiring only.

#include <cstdlib>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "agent/agent.h"
#include "common/logging.h"
#include "common/process.h"

int main(int argc, char** argv) {
  posfleet::BlockTerminationSignals();
  posfleet::DisableMutexDeadlockDetection();

  posfleet::agent::AgentOptions o;
  int heartbeat_seconds = 30;
  std::string log_level = "info";
  CLI::App app{"posfleet-agent: keeps a payment terminal in its posfleet estate"};
  app.add_option("--state-dir", o.state_dir, "where key, certificates and settings live")
      ->required();
  app.add_option("--server", o.server, "posfleet-server gRPC address, for enrollment")
      ->envname("POSFLEET_SERVER");
  app.add_option("--server-ca", o.server_ca, "PEM CA for the server's TLS certificate")
      ->check(CLI::ExistingFile);
  app.add_option("--vendor", o.vendor, "this terminal's vendor, as provisioned")->required();
  app.add_option("--serial", o.serial, "this terminal's serial, as provisioned")->required();
  app.add_option("--activation-code", o.activation_code,
                 "one-time code from a technician (first start only)")
      ->envname("POSFLEET_ACTIVATION_CODE");
  app.add_option("--heartbeat-interval", heartbeat_seconds, "seconds between heartbeats")
      ->check(CLI::Range(1, 3600));
  app.add_option("--log-level", log_level)
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  o.heartbeat_interval = absl::Seconds(heartbeat_seconds);

  posfleet::agent::HostHealthProvider health(o.state_dir);
  posfleet::agent::Agent agent(o, health);
  std::thread signals([&] {
    posfleet::WaitForTerminationSignal();
    agent.Stop();
  });
  signals.detach();
  absl::Status s = agent.Run();
  if (!s.ok()) {
    std::cerr << "posfleet-agent: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

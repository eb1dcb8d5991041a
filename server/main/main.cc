// posfleet-server: parses the flags and runs one subcommand. The parts are elsewhere in this
// folder: flags.h (every flag), server.h (serve), commands.h (the others), setup.h (what they
// share).

#include <iostream>

#include "CLI/CLI.hpp"
#include "common/logging.h"
#include "common/process.h"
#include "server/main/commands.h"
#include "server/main/flags.h"
#include "server/main/server.h"

int main(int argc, char** argv) {
  using namespace posfleet::server;  // NOLINT: this file is the binary's entry only
  // Signals are taken by sigwait in Serve; block them before any thread starts.
  posfleet::BlockTerminationSignals();
  posfleet::DisableMutexDeadlockDetection();

  Flags flags;
  CLI::App app{"posfleet-server: terminal management API for fleets of payment terminals"};
  const Subcommands sub = AddFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (const std::string wrong = CheckFlags(flags); !wrong.empty()) {
    std::cerr << wrong << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  if (sub.migrate->parsed()) return MigrateCommand(flags);
  if (sub.broker_certs->parsed()) return BrokerCertsCommand(flags);
  if (sub.params_reseal->parsed()) return ParamsResealCommand(flags);
  return Serve(flags);
}

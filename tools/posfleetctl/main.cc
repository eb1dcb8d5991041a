// posfleetctl: the command line for acquirers and field technicians. Wiring only.

#include <cstdlib>

#include "CLI/CLI.hpp"
#include "tools/posfleetctl/commands.h"

int main(int argc, char** argv) {
  posfleet::ctl::Context ctx;
  CLI::App app{
      "posfleetctl: manage a posfleet terminal estate.\n"
      "Server and token come from --server/--token or POSFLEET_SERVER/POSFLEET_TOKEN."};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--server", ctx.options.server, "posfleet-server address host:port")
      ->envname("POSFLEET_SERVER");
  app.add_option("--token", ctx.options.token, "API token (pft_...)")->envname("POSFLEET_TOKEN");
  app.add_option("--tls-ca", ctx.options.tls_ca, "PEM CA bundle: use TLS and trust this CA")
      ->envname("POSFLEET_TLS_CA")
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", ctx.options.output, "table (default) or json (protobuf JSON)")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", ctx.options.timeout_seconds, "seconds per call")
      ->check(CLI::Range(1, 3600));
  posfleet::ctl::AddTerminalCommands(app, ctx);
  posfleet::ctl::AddFleetCommands(app, ctx);
  posfleet::ctl::AddOrgCommands(app, ctx);
  posfleet::ctl::AddTokenCommands(app, ctx);
  posfleet::ctl::AddTxnCommands(app, ctx);
  posfleet::ctl::AddConfigCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return ctx.exit_code;
}

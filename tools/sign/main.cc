// posfleet-sign: keys, roots, releases and downgrade authorisations, offline. Wiring only.

#include <iostream>

#include "CLI/CLI.hpp"
#include "tools/sign/sign_commands.h"

int main(int argc, char** argv) {
  posfleet::sign::Context ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  CLI::App app{
      "posfleet-sign: sign software offline (docs/software.md).\n"
      "Private keys stay in their files; documents are signed in place, one key holder at a "
      "time."};
  app.require_subcommand(1);
  posfleet::sign::AddSignCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return ctx.exit_code;
}

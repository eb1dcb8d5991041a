#pragma once

// posfleet-sign: the offline side of software trust (docs/software.md). Key holders make keys
// and hand out their public halves; whoever prepares a document (a root, a release, a downgrade
// authorisation) writes it unsigned; each key holder adds a signature on their own machine;
// anyone can check a document against a root. Nothing here talks to a server, and no private key
// leaves the file it was written to.

#include <iosfwd>
#include <string>

#include "CLI/CLI.hpp"
#include "common/env.h"

namespace posfleet::sign {

struct Context {
  Env* env = &RealEnv();
  std::ostream* out = nullptr;  // messages and `show`/`verify` output
  std::ostream* err = nullptr;
  int exit_code = 0;
};

void AddSignCommands(CLI::App& app, Context& ctx);

}  // namespace posfleet::sign

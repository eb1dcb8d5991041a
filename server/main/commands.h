#pragma once

// posfleet-server's subcommands besides serve (server/main/server.h): each runs once and returns
// the process's exit code.

#include "server/main/flags.h"

namespace posfleet::server {

// broker-certs --out DIR: what a deployment needs from the fleet CA.
int BrokerCertsCommand(const Flags& flags);
// params-reseal: key rotation for secret parameters.
int ParamsResealCommand(const Flags& flags);
// migrate [--status | --down-to N]
int MigrateCommand(const Flags& flags);

}  // namespace posfleet::server

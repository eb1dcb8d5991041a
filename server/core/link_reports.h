#pragma once

// What the terminal link reports, decoded and validated by server/link, in core's own terms.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/core/types.h"

namespace posfleet::core {

// up/status: a terminal (or its Will) says it is online or offline.
struct StatusReport {
  std::string terminal_id;
  bool online = false;
  int64_t session = 0;
  std::string agent_version;
};

// up/heartbeat: health, which also proves presence.
struct HealthReport {
  std::string terminal_id;
  int64_t session = 0;
  Health health;
};

}  // namespace posfleet::core

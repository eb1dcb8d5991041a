#pragma once

// What the terminal link reports, decoded and validated by server/link, in core's own terms.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

// The reports of a batch that count, one per terminal: the newest session, the last one on a
// tie (a late Will from an earlier connection loses to the reconnect). In terminal id order.
template <typename Report>
std::vector<const Report*> NewestPerTerminal(const std::vector<Report>& reports) {
  std::map<std::string, const Report*> newest;
  for (const Report& r : reports) {
    auto [it, inserted] = newest.emplace(r.terminal_id, &r);
    if (!inserted && r.session >= it->second->session) it->second = &r;
  }
  std::vector<const Report*> out;
  out.reserve(newest.size());
  for (const auto& [id, r] : newest) out.push_back(r);
  return out;
}

}  // namespace posfleet::core

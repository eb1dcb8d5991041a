#pragma once

#include <mutex>
#include <random>

#include "agent/health.h"

namespace posfleet::sim {

struct Behaviour {
  bool low_battery = false;
  bool paper_out = false;
};

// Synthetic health that moves like a real terminal's: the battery drains and recharges, paper
// runs low, the temperature and signal wander. Deterministic for a given seed.
class SimHealth final : public agent::HealthProvider {
 public:
  SimHealth(uint64_t seed, Behaviour behaviour);
  void Fill(v1::Heartbeat& hb) override;

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
  Behaviour behaviour_;
  int battery_;
  bool charging_ = false;
  uint64_t uptime_ = 0;
  bool new_app_;
};

}  // namespace posfleet::sim

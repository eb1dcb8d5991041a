#include "tools/sim/sim_health.h"

namespace posfleet::sim {

SimHealth::SimHealth(uint64_t seed, Behaviour behaviour) : rng_(seed), behaviour_(behaviour) {
  std::uniform_int_distribution<int> start(40, 100);
  battery_ = behaviour_.low_battery ? 8 : start(rng_);
  uptime_ = rng_() % 86400;
  new_app_ = rng_() % 3 == 0;  // a third of the fleet already runs the newer payment app
}

void SimHealth::Fill(v1::Heartbeat& hb) {
  std::lock_guard<std::mutex> lock(mu_);
  if (charging_) {
    battery_ = std::min(100, battery_ + 3);
    if (battery_ >= 100) charging_ = false;
  } else if (rng_() % 3 == 0) {
    battery_ = std::max(behaviour_.low_battery ? 3 : 0, battery_ - 1);
    if (battery_ <= 15 && !behaviour_.low_battery) charging_ = true;
  }
  uptime_ += 30;
  hb.set_battery_percent(battery_);
  hb.set_charging(charging_);
  hb.set_temperature_c(30 + static_cast<int>(rng_() % 15));
  if (behaviour_.paper_out) {
    hb.set_paper(v1::Heartbeat::PAPER_OUT);
  } else {
    hb.set_paper(rng_() % 20 == 0 ? v1::Heartbeat::PAPER_LOW : v1::Heartbeat::PAPER_OK);
  }
  hb.set_signal_dbm(-60 - static_cast<int>(rng_() % 40));
  hb.set_network(rng_() % 4 == 0 ? "wifi" : "4g");
  hb.set_storage_free_bytes(512ULL * 1024 * 1024 + rng_() % (256ULL * 1024 * 1024));
  hb.set_uptime_seconds(uptime_);
  (*hb.mutable_versions())["os"] = "11";
  (*hb.mutable_versions())["payment-app"] = new_app_ ? "3.3.0" : "3.2.1";
  (*hb.mutable_versions())["agent"] = agent::kAgentVersion;
}

}  // namespace posfleet::sim

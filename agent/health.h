#pragma once

#include <string>

#include "posfleet/v1/link.pb.h"

namespace posfleet::agent {

// Where heartbeat health comes from. On a real terminal an implementation reads the vendor's
// device API (battery, printer, modem); posfleet-sim supplies synthetic values.
class HealthProvider {
 public:
  virtual ~HealthProvider() = default;
  // Fills the health fields of `hb` (not terminal_id, session or time).
  virtual void Fill(v1::Heartbeat& hb) = 0;
};

// What a Linux host can tell without device drivers: uptime, free storage where the agent keeps
// its state, the agent's version; no battery and no printer.
class HostHealthProvider final : public HealthProvider {
 public:
  explicit HostHealthProvider(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  void Fill(v1::Heartbeat& hb) override;

 private:
  std::string state_dir_;
};

inline constexpr char kAgentVersion[] = "0.1.0";

}  // namespace posfleet::agent

#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "agent/mqtt_connection.h"
#include "tools/sim/sim_health.h"

namespace posfleet::sim {

// One simulated terminal as the simulator knows it.
struct SimTerminalSpec {
  std::string serial;
  std::string terminal_id;  // from provisioning
  agent::AgentOptions options;
  Behaviour behaviour;
  uint64_t seed = 0;
  bool flaps = false;
};

struct SimTerminalView {
  std::string serial;
  std::string terminal_id;
  // The agent's state ("online", "offline", "connecting", ...), or "starting", "killed",
  // "frozen", or "stopped" (it gave up: see the simulator's log).
  std::string state;
};

// The terminals of posfleet-sim: one real agent each (its own thread running Agent::Run), their
// MQTT connections spread over a few shared I/O loops. Lets a person kill, freeze and revive
// single terminals while the rest run on.
class SimFleet {
 public:
  SimFleet(std::vector<SimTerminalSpec> specs, int io_threads);
  // Stops every agent (each says goodbye) and joins the threads.
  ~SimFleet();

  // Starts the agents, at most `ramp` enrolling or connecting at once (a real estate comes
  // online over hours, not in one second); returns once all have started.
  void Start(int ramp);
  // Makes a Start under way return early (shutting down during the ramp).
  void StopStarting() { stopping_ = true; }

  // A terminal by serial or terminal id. NotFound otherwise.
  absl::StatusOr<SimTerminalView> Kill(const std::string& ref);
  absl::StatusOr<SimTerminalView> Freeze(const std::string& ref);
  absl::StatusOr<SimTerminalView> Revive(const std::string& ref);
  std::vector<SimTerminalView> List() const;

  // Drops the connections of the flapping terminals (they reconnect with a new session).
  void Flap();
  int online() const;
  // Agents that stopped on their own (a refused enrollment, an expired certificate).
  int failed() const;
  size_t size() const;

 private:
  struct Member {
    SimTerminalSpec spec;
    std::unique_ptr<SimHealth> health;
    std::unique_ptr<agent::Agent> agent;
    std::thread thread;
    bool killed = false;
    std::shared_ptr<std::atomic<bool>> returned;  // Run has returned (stopped, or gave up)
  };

  void Launch(Member& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Member* Find(const std::string& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SimTerminalView View(const Member& m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<std::unique_ptr<agent::MqttLoop>> loops_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Member>> members_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> failed_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace posfleet::sim

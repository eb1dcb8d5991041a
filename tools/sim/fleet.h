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
#include "common/env.h"
#include "tools/sim/sim_health.h"
#include "tools/sim/txn_stream.h"

namespace posfleet::sim {

// One simulated terminal as the simulator knows it.
struct SimTerminalSpec {
  std::string serial;
  std::string terminal_id;  // from provisioning
  agent::AgentOptions options;
  Behaviour behaviour;
  uint64_t seed = 0;
  bool flaps = false;
  std::string mid;  // the merchant's acquirer id, on its transaction records
};

// Transactions across the fleet, since the last reset of the latency figures.
struct SimTxnStats {
  uint64_t recorded = 0;   // taken by an agent's outbox
  uint64_t refused = 0;    // not taken (outbox full, agent not started or killed)
  uint64_t committed = 0;  // acknowledged by the server as committed
  uint64_t backlog = 0;    // in the outboxes, not yet acknowledged
  uint64_t latency_count = 0;
  absl::Duration p50, p99, max;  // from RecordTransaction to the ack at the agent
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
  // Each terminal gets an in-memory outbox of `outbox_capacity` records (a real agent's is
  // SQLite on its own flash; ten thousand of them fsyncing on one disk would measure the disk)
  // and a transaction stream in `currency`.
  SimFleet(std::vector<SimTerminalSpec> specs, int io_threads, uint64_t outbox_capacity = 100000,
           std::string currency = "EUR");
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

  // Payment records at `per_second` across the fleet (spread at random over the terminals that
  // run, each record a RecordTransaction on its agent as a payment app would make it), on a
  // thread of its own until StopTransactions or destruction. Zero stops them.
  void SetTransactionRate(double per_second);
  SimTxnStats TxnStats(bool reset_latency);

 private:
  struct Member {
    SimTerminalSpec spec;
    std::unique_ptr<SimHealth> health;
    // Outlive the agent: a killed terminal keeps what it had recorded, as on flash.
    std::unique_ptr<agent::Outbox> outbox;
    std::unique_ptr<TxnStream> stream;  // the generator thread's only
    std::unique_ptr<agent::Agent> agent;
    std::thread thread;
    bool killed = false;
    std::shared_ptr<std::atomic<bool>> returned;  // Run has returned (stopped, or gave up)
  };

  void Launch(Member& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Member* Find(const std::string& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SimTerminalView View(const Member& m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GenerateTransactions();

  std::vector<std::unique_ptr<agent::MqttLoop>> loops_;
  Env& env_ = RealEnv();  // the agents' too (AgentOptions::env unset)
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Member>> members_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> failed_{0};
  std::atomic<bool> stopping_{false};

  LatencyHistogram latency_;
  std::atomic<uint64_t> recorded_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> committed_{0};
  absl::Mutex txn_mu_;
  double txn_rate_ ABSL_GUARDED_BY(txn_mu_) = 0;
  bool txn_stop_ ABSL_GUARDED_BY(txn_mu_) = false;
  std::thread generator_;
};

}  // namespace posfleet::sim

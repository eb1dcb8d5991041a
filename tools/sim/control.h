#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "posfleet/v1/sim.grpc.pb.h"
#include "tools/sim/fleet.h"

namespace posfleet::sim {

// posfleet-sim's control socket: SimControl (proto/posfleet/v1/sim.proto) over the fleet.
class SimControlService final : public v1::SimControl::Service {
 public:
  explicit SimControlService(SimFleet& fleet) : fleet_(fleet) {}

  grpc::Status Kill(grpc::ServerContext*, const v1::SimTerminalRef* req,
                    v1::SimTerminal* resp) override;
  grpc::Status Freeze(grpc::ServerContext*, const v1::SimTerminalRef* req,
                      v1::SimTerminal* resp) override;
  grpc::Status Revive(grpc::ServerContext*, const v1::SimTerminalRef* req,
                      v1::SimTerminal* resp) override;
  grpc::Status ListTerminals(grpc::ServerContext*, const v1::ListSimTerminalsRequest*,
                             v1::ListSimTerminalsResponse* resp) override;
  grpc::Status TxnStats(grpc::ServerContext*, const v1::TxnStatsRequest* req,
                        v1::TxnStatsResponse* resp) override;
  grpc::Status SetTxnRate(grpc::ServerContext*, const v1::SetTxnRateRequest* req,
                          v1::SetTxnRateResponse*) override;

 private:
  SimFleet& fleet_;
};

// The control socket of a simulator whose state directory is `state_dir`.
std::string ControlSocket(const std::string& state_dir);

// Serves `service` on the control socket (a stale socket file from a killed simulator is
// replaced). Null, with a message on stderr, when it cannot.
std::unique_ptr<grpc::Server> ServeControl(SimControlService& service,
                                           const std::string& state_dir);

// `posfleet-sim kill|freeze|revive SERIAL` and `posfleet-sim list`: talks to the running
// simulator and prints the outcome. Returns the process exit code.
int ControlCommand(const std::string& verb, const std::string& ref, const std::string& state_dir);

// `posfleet-sim stats [--reset]` (one line of key=value figures, for people and scripts) and
// `posfleet-sim txn-rate PER_SECOND`. Returns the process exit code.
int StatsCommand(const std::string& state_dir, bool reset);
int TxnRateCommand(const std::string& state_dir, double per_second);

}  // namespace posfleet::sim

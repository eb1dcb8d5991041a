#pragma once

// The agent's local API (posfleet/v1/agent_local.proto) for the payment application: gRPC on the
// Unix-domain socket STATE_DIR/agent.sock, created mode 0660 so only the terminal's own users
// reach it.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "agent/agent.h"

namespace posfleet::agent {

class LocalApi {
 public:
  explicit LocalApi(Agent& agent);
  ~LocalApi();

  absl::Status Start(const std::string& socket_path);
  void Stop();

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// "unix:STATE_DIR/agent.sock"
std::string LocalApiAddress(const std::string& state_dir);

}  // namespace posfleet::agent

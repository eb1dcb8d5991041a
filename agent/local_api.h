#pragma once

// The agent's local API (posfleet/v1/agent_local.proto) for the payment application: gRPC on the
// Unix-domain socket STATE_DIR/agent.sock. It admits the agent's own user (the payment application
// runs as it) and, if one is configured, the members of one group: the socket is 0600 (0660 of
// that group), and every connection's peer credentials are checked as well, so a mode loosened
// later admits no one else. Refused connections are closed, logged and counted.

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "agent/agent.h"

namespace posfleet::agent {

class LocalApi {
 public:
  explicit LocalApi(Agent& agent);
  ~LocalApi();

  // Listens on socket_path; members of `group` may connect too.
  absl::Status Start(const std::string& socket_path, std::optional<gid_t> group = std::nullopt);
  void Stop();

  // Connections refused because of their peer's user and groups.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  class Service;
  void AcceptLoop();

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  uid_t owner_ = 0;
  std::optional<gid_t> group_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::thread acceptor_;
  std::atomic<uint64_t> refused_{0};
};

// "unix:STATE_DIR/agent.sock"
std::string LocalApiAddress(const std::string& state_dir);

}  // namespace posfleet::agent

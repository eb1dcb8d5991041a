#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/metrics.h"
#include "common/secret_box.h"
#include "server/core/call_limits.h"
#include "server/core/change_feed.h"
#include "server/core/enrollment.h"
#include "server/core/store.h"

namespace posfleet::api {

struct ApiServerOptions {
  std::string listen = "127.0.0.1:7443";  // host:port; port 0 picks a free port
  // PEM files; both empty means plaintext (loopback and tests only).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Parameters: the key that seals secret values (none: secrets are refused) and what to call after
// a committed change (wakes the down/config publisher).
struct ConfigSettings {
  const SecretBox* box = nullptr;
  std::function<void()> on_change = [] {};
};

// The gRPC API: every v1 service, the standard health service and server reflection.
class ApiServer {
 public:
  // `feed` tells WatchTerminals what changed; it must outlive the server.
  ApiServer(core::Store& store, Counters& counters, core::ChangeFeed& feed,
            core::EnrollmentSettings enrollment, ConfigSettings config = {},
            core::CallLimitOptions limits = {});
  ~ApiServer();

  // Binds and starts serving. InvalidArgument for unreadable TLS files, Unavailable if the
  // address cannot be bound.
  absl::Status Start(const ApiServerOptions& options);
  int port() const { return port_; }
  // Reported through grpc.health.v1 for the whole server ("") and each service.
  void SetServing(bool serving);
  void Shutdown();
  // Writes the audit rows of every refused anonymous call counted so far (see core::FailureTally);
  // a background thread does it as each window ends.
  void FlushAudit();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace posfleet::api

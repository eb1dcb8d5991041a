#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
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
  // The operators' API (every service but enrollment), for people and back offices. host:port;
  // port 0 picks a free port.
  std::string listen = "127.0.0.1:7443";
  // The terminals' endpoint: EnrollmentService only (Enroll, RenewCertificate), whose callers
  // carry no token. Its messages are small, so it reads none larger than kDeviceMaxMessageBytes
  // and keeps all its calls within `device_memory_bytes`; anonymous traffic cannot spend the
  // operators' memory, and the operators' listener need not be reachable from terminals.
  std::string device_listen = "127.0.0.1:7444";
  // PEM files for both listeners; both empty means plaintext (loopback and tests only).
  std::string tls_cert_file;
  std::string tls_key_file;
  // What all calls in flight on each listener may hold (gRPC's resource quota): past it gRPC
  // refuses new streams and resets the largest with RESOURCE_EXHAUSTED rather than grow. gRPC
  // reads a whole message before it checks its size, so this, not the size limit, is what bounds
  // the memory a caller with no token can make the server spend.
  int64_t api_memory_bytes = int64_t{256} << 20;
  int64_t device_memory_bytes = int64_t{32} << 20;
};

// The largest request each listener reads. An Enroll or RenewCertificate request (a P-256 CSR,
// a certificate and a proof) is under 3 KiB; a bulk import of 10,000 terminals fits the API's.
inline constexpr int kDeviceMaxMessageBytes = 16 << 10;
inline constexpr int kApiMaxMessageBytes = 32 << 20;

// Parameters: the key that seals secret values (none: secrets are refused) and what to call after
// a committed change (wakes the down/config publisher).
struct ConfigSettings {
  const SecretBox* box = nullptr;
  std::function<void()> on_change = [] {};
};

// The gRPC API on two listeners (ApiServerOptions): every v1 service but enrollment for
// operators, EnrollmentService for terminals; each has the standard health service, the
// operators' also server reflection.
class ApiServer {
 public:
  // `feed` tells WatchTerminals what changed; it must outlive the server.
  ApiServer(Env& env, core::Store& store, Counters& counters, core::ChangeFeed& feed,
            core::EnrollmentSettings enrollment, ConfigSettings config = {},
            core::CallLimitOptions limits = {});
  ~ApiServer();

  // Binds and starts serving. InvalidArgument for unreadable TLS files, Unavailable if the
  // address cannot be bound.
  absl::Status Start(const ApiServerOptions& options);
  int port() const { return port_; }
  int device_port() const { return device_port_; }
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
  std::unique_ptr<grpc::Server> device_server_;
  int port_ = 0;
  int device_port_ = 0;
};

}  // namespace posfleet::api

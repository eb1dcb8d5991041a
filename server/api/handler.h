#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "server/api/convert.h"
#include "server/core/token_registry.h"

namespace posfleet::api {

// What every RPC does around its own work: authenticate the bearer token, run, count the outcome
// (posfleet_api_requests_total{method,code}) and translate the status to gRPC once.
class Handler {
 public:
  Handler(core::TokenRegistry& tokens, Counters& counters) : tokens_(tokens), counters_(counters) {}

  template <typename Fn>
  grpc::Status Run(grpc::ServerContext* ctx, absl::string_view method, Fn&& fn) {
    absl::Status status;
    absl::StatusOr<core::Actor> actor = Authenticate(ctx);
    if (actor.ok()) {
      status = fn(*actor);
    } else {
      status = actor.status();
    }
    Record(method, status);
    return ToGrpc(status);
  }

  // For the methods whose caller is a terminal proving itself without a token (Enroll with an
  // activation code, RenewCertificate with its certificate): counts and translates only.
  template <typename Fn>
  grpc::Status RunAnonymous(absl::string_view method, Fn&& fn) {
    absl::Status status = fn();
    Record(method, status);
    return ToGrpc(status);
  }

 private:
  absl::StatusOr<core::Actor> Authenticate(grpc::ServerContext* ctx);
  void Record(absl::string_view method, const absl::Status& status);

  core::TokenRegistry& tokens_;
  Counters& counters_;
};

}  // namespace posfleet::api

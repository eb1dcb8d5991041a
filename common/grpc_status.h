#pragma once

// absl::Status -> grpc::Status, for every gRPC service posfleet serves (the API, the agent's
// local API, the simulator's control socket). Header-only: common itself does not link gRPC.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace posfleet {

inline grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace posfleet

#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace posfleet {

// A channel to posfleet-server's API for its clients (posfleetctl, posfleet-sim, the benchmarks).
// A call the server refuses with RESOURCE_EXHAUSTED (a call limit, server/core/call_limits.h) is
// tried again by gRPC itself, up to 5 attempts in all, after the wait the server sends in
// grpc-retry-pushback-ms: a client pacing itself by the server's answers never sees the refusal.
std::shared_ptr<grpc::Channel> ApiChannel(const std::string& address,
                                          std::shared_ptr<grpc::ChannelCredentials> credentials,
                                          int max_message_bytes = 32 << 20);

}  // namespace posfleet

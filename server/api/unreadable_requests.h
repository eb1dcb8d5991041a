#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace posfleet::api {

// gRPC parses each request before any handler of ours runs; a request that does not parse (a
// string field with invalid UTF-8, which proto3 refuses, or bytes that are not the message) is
// answered INTERNAL with an empty message by the library. This interceptor sees that the parse
// failed (no message after POST_RECV_MESSAGE) and answers INVALID_ARGUMENT, saying so, instead:
// the caller's mistake, not the server's. (The handler never ran, so posfleet_api_requests_total
// does not count these.)
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewUnreadableRequestAnswer();

}  // namespace posfleet::api

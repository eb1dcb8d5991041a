#include "server/api/api_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(ApiServerTest, APortInUseIsAStartUpErrorNotASharedPort) {
  ApiHarness h;
  Counters counters;
  api::ApiServer second(*h.store, counters);
  absl::Status s = second.Start({"127.0.0.1:" + std::to_string(h.server->port()), "", ""});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(ApiServerTest, UnreadableTlsFilesAreRefused) {
  ApiHarness h;
  Counters counters;
  api::ApiServer tls(*h.store, counters);
  absl::Status s = tls.Start({"127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(ApiServerTest, HealthServiceReportsEveryService) {
  ApiHarness h;
  auto health = grpc::health::v1::Health::NewStub(h.channel);
  for (const char* service : {"", "posfleet.v1.TerminalService", "posfleet.v1.AuditService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  h.server->SetServing(false);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
}

}  // namespace
}  // namespace posfleet

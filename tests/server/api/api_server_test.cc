#include "server/api/api_server.h"

#include <grpcpp/generic/generic_stub.h>
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
  api::ApiServer second(*h.store, counters, *h.feed, h.enrollment);
  absl::Status s = second.Start({"127.0.0.1:" + std::to_string(h.server->port()), "", ""});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(ApiServerTest, UnreadableTlsFilesAreRefused) {
  ApiHarness h;
  Counters counters;
  api::ApiServer tls(*h.store, counters, *h.feed, h.enrollment);
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

// Server reflection answers `list_services`. Debian ships neither a reflection client nor its
// proto, so the request is encoded by hand: ServerReflectionRequest{list_services: ""} is field 7,
// an empty string (0x3a 0x00); the reply is searched for the service names.
TEST(ApiServerTest, ReflectionListsTheServices) {
  ApiHarness h;
  grpc::GenericStub stub(h.channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t want) {
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_EQ(reinterpret_cast<intptr_t>(tag), want);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  ASSERT_TRUE(ok);
  const char request[] = {0x3a, 0x00};
  grpc::Slice slice(request, sizeof(request));
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  step(2);
  ASSERT_TRUE(ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  step(3);
  ASSERT_TRUE(ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string reply;
  for (const grpc::Slice& s : slices)
    reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (const char* service :
       {"posfleet.v1.TerminalService", "posfleet.v1.MerchantService", "posfleet.v1.TenantService",
        "posfleet.v1.TokenService", "posfleet.v1.AuditService", "grpc.health.v1.Health"}) {
    EXPECT_NE(reply.find(service), std::string::npos) << service;
  }
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace posfleet

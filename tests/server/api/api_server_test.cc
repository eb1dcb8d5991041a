#include "server/api/api_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

api::ApiServerOptions FreePorts() {
  api::ApiServerOptions options;
  options.listen = "127.0.0.1:0";
  options.device_listen = "127.0.0.1:0";
  return options;
}

TEST(ApiServerTest, APortInUseIsAStartUpErrorNotASharedPort) {
  ApiHarness h;
  Counters counters;
  for (bool device : {false, true}) {
    api::ApiServer second(RealEnv(), *h.store, counters, *h.feed, h.enrollment);
    api::ApiServerOptions options = FreePorts();
    const std::string taken =
        "127.0.0.1:" + std::to_string(device ? h.server->device_port() : h.server->port());
    (device ? options.device_listen : options.listen) = taken;
    absl::Status s = second.Start(options);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_NE(s.message().find(taken), std::string::npos) << s;
  }
}

TEST(ApiServerTest, UnreadableTlsFilesAreRefused) {
  ApiHarness h;
  Counters counters;
  api::ApiServer tls(RealEnv(), *h.store, counters, *h.feed, h.enrollment);
  api::ApiServerOptions options = FreePorts();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  absl::Status s = tls.Start(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

// Asks the health service behind `channel` about `service` ("" for the whole server).
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         grpc::health::v1::HealthCheckResponse* resp) {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::ClientContext ctx;
  return grpc::health::v1::Health::NewStub(channel)->Check(&ctx, req, resp);
}

TEST(ApiServerTest, HealthServiceReportsEveryService) {
  ApiHarness h;
  grpc::health::v1::HealthCheckResponse resp;
  for (const char* service : {"", "posfleet.v1.TerminalService", "posfleet.v1.AuditService"}) {
    ASSERT_TRUE(CheckHealth(h.channel, service, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  h.server->SetServing(false);
  ASSERT_TRUE(CheckHealth(h.channel, "", &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
}

TEST(ApiServerTest, TheTerminalsListenerReportsItsHealthToo) {
  ApiHarness h;
  grpc::health::v1::HealthCheckResponse resp;
  for (const char* service : {"", "posfleet.v1.EnrollmentService"}) {
    ASSERT_TRUE(CheckHealth(h.device_channel, service, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  EXPECT_EQ(CheckHealth(h.device_channel, "posfleet.v1.TerminalService", &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// Callers without a token (terminals enrolling or renewing) have a listener of their own; the
// operators' listener does not enroll, and the terminals' serves nothing else.
TEST(ApiServerTest, EachListenerServesOnlyItsOwnCallers) {
  ApiHarness h;
  v1::EnrollRequest enroll;
  enroll.set_vendor("PAX");
  enroll.set_serial("SN1");
  v1::EnrollResponse enrolled;
  grpc::ClientContext ctx;
  EXPECT_EQ(v1::EnrollmentService::NewStub(h.channel)->Enroll(&ctx, enroll, &enrolled).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  v1::ListTerminalsRequest list;
  v1::ListTerminalsResponse listed;
  EXPECT_EQ(v1::TerminalService::NewStub(h.device_channel)
                ->ListTerminals(ApiHarness::As(h.admin).get(), list, &listed)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), list, &listed).ok());
}

// Enrollment messages are small: the terminals' listener refuses a larger one before any code
// of ours reads it, while the operators' still takes a large request (a bulk import).
TEST(ApiServerTest, TheTerminalsListenerReadsNoLargeMessage) {
  ApiHarness h;
  v1::EnrollRequest enroll;
  enroll.set_vendor("PAX");
  enroll.set_serial("SN1");
  enroll.set_activation_code("ABCD-EFGH-JKLM");
  enroll.set_csr_pem(std::string(api::kDeviceMaxMessageBytes, 'A'));
  v1::EnrollResponse enrolled;
  grpc::ClientContext big;
  const grpc::Status refused = h.enroll->Enroll(&big, enroll, &enrolled);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("larger than max"), std::string::npos)
      << refused.error_message();
  // Just under the limit, it is read and refused for what it says.
  enroll.set_csr_pem(std::string(api::kDeviceMaxMessageBytes - 256, 'A'));
  grpc::ClientContext fits;
  EXPECT_EQ(h.enroll->Enroll(&fits, enroll, &enrolled).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  v1::ListTerminalsRequest list;
  list.set_page_token(std::string(1 << 20, 'A'));
  v1::ListTerminalsResponse listed;
  const grpc::Status read =
      h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), list, &listed);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << read.error_message();
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

// What callers without a token can make the real server process hold: large requests sent by
// many at once must be refused within each listener's memory quota, not read into memory.
// gRPC reads a whole message before it checks its size, so only the quota bounds this.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "posfleet/v1/enrollment.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "tests/e2e/e2e_harness.h"

namespace posfleet::e2e {
namespace {

constexpr size_t kRequestBytes = size_t{30} << 20;  // just under the API's largest message
constexpr int64_t kApiMemoryMib = 64;
constexpr int64_t kMiB = int64_t{1} << 20;

// The process's peak resident memory (VmHWM), in bytes; -1 if unreadable.
int64_t PeakRss(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

class MemoryE2eTest : public E2eTest {
 protected:
  std::vector<std::string> ServerFlags() override {
    return {"--api-memory-mib", std::to_string(kApiMemoryMib)};
  }

  // Runs `call` from `callers` threads at once, each on a connection of its own (one connection's
  // streams would queue behind one another); returns their answers.
  template <typename Call>
  std::vector<grpc::Status> Flood(int port, int callers, Call call) {
    std::vector<grpc::Status> answers(callers);
    std::vector<std::thread> threads;
    for (int i = 0; i < callers; ++i) {
      threads.emplace_back([&, i] {
        grpc::ChannelArguments args;
        args.SetInt("posfleet.caller", i);  // a distinct channel, so a distinct connection
        args.SetMaxSendMessageSize(-1);
        auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                                 grpc::InsecureChannelCredentials(), args);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        answers[i] = call(channel, ctx);
      });
    }
    for (std::thread& t : threads) t.join();
    return answers;
  }
};

TEST_F(MemoryE2eTest, LargeEnrollmentsFromManyCallersAreRefusedWithinTheTerminalsQuota) {
  const int64_t before = PeakRss(server_);
  ASSERT_GT(before, 0);
  const std::vector<grpc::Status> answers =
      Flood(device_port_, 20,
            [](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& ctx) {
              v1::EnrollRequest req;
              req.set_vendor("PAX");
              req.set_serial("SN-BIG");
              req.set_csr_pem(std::string(kRequestBytes, 'A'));
              v1::EnrollResponse resp;
              return v1::EnrollmentService::NewStub(channel)->Enroll(&ctx, req, &resp);
            });
  // Refused for its size, reset under the quota's pressure, or its connection closed (GOAWAY).
  for (const grpc::Status& answer : answers) {
    EXPECT_TRUE(answer.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                answer.error_code() == grpc::StatusCode::UNAVAILABLE)
        << answer.error_code() << " " << answer.error_message();
  }
  const int64_t grown = PeakRss(server_) - before;
  std::cout << "server peak RSS grew by " << grown / kMiB << " MiB\n";
  // The terminals' quota is 32 MiB: the peak grew by 50-65 MiB in runs here, and by 324 MiB
  // without a quota, where the 16 KiB size limit alone does not help (gRPC reads each request
  // whole before it checks its size).
  EXPECT_LT(grown, 128 * kMiB) << "peak RSS grew by " << grown / kMiB << " MiB";
  EXPECT_EQ(Ctl("tokens whoami").code, 0);
}

TEST_F(MemoryE2eTest, LargeRequestsWithoutATokenAreRefusedWithinTheApiQuota) {
  const int64_t before = PeakRss(server_);
  ASSERT_GT(before, 0);
  const std::vector<grpc::Status> answers =
      Flood(port_, 10, [](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& ctx) {
        v1::ListTerminalsRequest req;
        req.set_page_token(std::string(kRequestBytes, 'A'));
        v1::ListTerminalsResponse resp;
        return v1::TerminalService::NewStub(channel)->ListTerminals(&ctx, req, &resp);
      });
  // A request read whole is refused for its missing token; others as above.
  for (const grpc::Status& answer : answers) {
    EXPECT_TRUE(answer.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                answer.error_code() == grpc::StatusCode::UNAVAILABLE ||
                answer.error_code() == grpc::StatusCode::UNAUTHENTICATED)
        << answer.error_code() << " " << answer.error_message();
  }
  const int64_t grown = PeakRss(server_) - before;
  std::cout << "server peak RSS grew by " << grown / kMiB << " MiB\n";
  // The quota bounds what gRPC buffers; what the handlers parse comes on top (127-190 MiB in
  // runs here, 450-520 MiB without a quota).
  EXPECT_LT(grown, (kApiMemoryMib + 192) * kMiB) << "peak RSS grew by " << grown / kMiB << " MiB";
  EXPECT_EQ(Ctl("tokens whoami").code, 0);
}

}  // namespace
}  // namespace posfleet::e2e

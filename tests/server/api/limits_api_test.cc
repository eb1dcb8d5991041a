// Call limits over a real gRPC channel and PostgreSQL: a token or tenant over its limit is told
// RESOURCE_EXHAUSTED with a retry hint, and nobody else notices.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "common/api_channel.h"
#include "tests/support/api_harness.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

// An open WatchTerminals stream (it has sent its first event), or the status it ended with.
struct Watch {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::TerminalEvent>> reader;
  grpc::Status status;
  bool open = false;

  Watch(ApiHarness& h, const std::string& token) : ctx(ApiHarness::As(token)) {
    v1::WatchTerminalsRequest req;
    reader = h.terminals->WatchTerminals(ctx.get(), req);
    v1::TerminalEvent first;
    open = reader->Read(&first);
    if (!open) status = reader->Finish();
  }
  ~Watch() { Close(); }
  void Close() {
    if (!open) return;
    ctx->TryCancel();
    v1::TerminalEvent e;
    while (reader->Read(&e)) {
    }
    (void)reader->Finish();
    open = false;
  }
  std::string Pushback() const {
    auto trailers = ctx->GetServerTrailingMetadata();
    auto it = trailers.find("grpc-retry-pushback-ms");
    return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
  }
};

TEST(LimitsApiTest, OneTokensStreamsAreCappedAndAnotherTenantStillWatches) {
  core::CallLimitOptions o = core::CallLimitOptions::Off();
  o.streams_per_token = 3;
  o.streams_per_tenant = 5;
  ApiHarness h(nullptr, "ssl://broker:8883", std::nullopt, o);
  const std::string abuser = h.CreateToken(v1::ROLE_VIEWER, h.CreateTenant("a").id());
  const std::string other = h.CreateToken(v1::ROLE_VIEWER, h.CreateTenant("b").id());

  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < 3; ++i) {
    watches.push_back(std::make_unique<Watch>(h, abuser));
    ASSERT_TRUE(watches.back()->open) << i << ": " << watches.back()->status.error_message();
  }
  Watch refused(h, abuser);
  ASSERT_FALSE(refused.open);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("streams open"), std::string::npos)
      << refused.status.error_message();
  EXPECT_EQ(refused.Pushback(), "1000");
  EXPECT_EQ(h.counters.Get("posfleet_api_limited_total",
                           "method=\"WatchTerminals\",limit=\"token_streams\""),
            1);

  Watch unaffected(h, other);
  EXPECT_TRUE(unaffected.open) << unaffected.status.error_message();

  // A stream closed frees its slot.
  watches.front()->Close();
  EXPECT_TRUE(testing::WaitFor([&] { return Watch(h, abuser).open; }));
}

TEST(LimitsApiTest, ATokenOverItsRateIsToldWhenToRetryAndOthersAreServed) {
  core::CallLimitOptions o = core::CallLimitOptions::Off();
  o.token_rate = 1;  // slow enough that the test's own pace does not refill it
  o.token_burst = 10;
  ApiHarness h(nullptr, "ssl://broker:8883", std::nullopt, o);
  const std::string tenant = h.CreateTenant("a").id();
  const std::string abuser = h.CreateToken(v1::ROLE_VIEWER, tenant);
  const std::string colleague = h.CreateToken(v1::ROLE_VIEWER, tenant);
  v1::ListTerminalsRequest req;
  v1::ListTerminalsResponse resp;
  int ok = 0;
  grpc::Status last;
  std::unique_ptr<grpc::ClientContext> last_ctx;
  for (int i = 0; i < 30; ++i) {
    last_ctx = ApiHarness::As(abuser);
    last = h.terminals->ListTerminals(last_ctx.get(), req, &resp);
    if (last.ok()) ++ok;
  }
  EXPECT_GE(ok, 10);
  EXPECT_LE(ok, 15);  // the burst, and what a second of test refilled at most
  ASSERT_EQ(last.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(last.error_message().find("retry in"), std::string::npos) << last.error_message();
  auto trailers = last_ctx->GetServerTrailingMetadata();
  EXPECT_NE(trailers.find("grpc-retry-pushback-ms"), trailers.end());
  EXPECT_GT(
      h.counters.Get("posfleet_api_limited_total", "method=\"ListTerminals\",limit=\"token_rate\""),
      0);
  EXPECT_TRUE(h.terminals->ListTerminals(ApiHarness::As(colleague).get(), req, &resp).ok());
}

TEST(LimitsApiTest, TheClientsChannelWaitsAsToldAndItsCallsGetThrough) {
  core::CallLimitOptions o = core::CallLimitOptions::Off();
  o.token_rate = 20;
  o.token_burst = 2;
  ApiHarness h(nullptr, "ssl://broker:8883", std::nullopt, o);
  const std::string viewer = h.CreateToken(v1::ROLE_VIEWER, h.CreateTenant("a").id());
  std::ifstream in(h.ca_file);
  std::stringstream pem;
  pem << in.rdbuf();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem.str();
  auto stub = v1::TerminalService::NewStub(
      ApiChannel("127.0.0.1:" + std::to_string(h.server->port()), grpc::SslCredentials(ssl)));
  // Faster than the limit: the channel retries each refusal after the server's pushback.
  for (int i = 0; i < 20; ++i) {
    v1::ListTerminalsResponse resp;
    grpc::Status s = stub->ListTerminals(ApiHarness::As(viewer).get(), {}, &resp);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  EXPECT_GT(
      h.counters.Get("posfleet_api_limited_total", "method=\"ListTerminals\",limit=\"token_rate\""),
      0);
}

int Threads() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

TEST(LimitsApiTest, OpenStreamsHoldNoThreadEach) {
  ApiHarness h;  // no limits: this is about what a stream costs
  const v1::Tenant tenant = h.CreateTenant("a");
  const std::string viewer = h.CreateToken(v1::ROLE_VIEWER, tenant.id());
  const std::string merchant = h.CreateMerchant(tenant.id(), "M1").id();
  const std::string terminal = h.CreateTerminal(h.admin, merchant, "SN1").id();
  h.MarkActive({terminal});  // as if enrolled: presence is kept for active terminals
  Watch warm(h, viewer);     // the first stream starts whatever gRPC starts once
  ASSERT_TRUE(warm.open);
  constexpr int kStreams = 300;
  const int before = Threads();
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < kStreams; ++i) {
    watches.push_back(std::make_unique<Watch>(h, viewer));
    ASSERT_TRUE(watches.back()->open) << i << ": " << watches.back()->status.error_message();
  }
  const int during = Threads();
  // A thread per stream used to be 300 more.
  EXPECT_LT(during - before, 30) << before << " threads before, " << during << " with 300 streams";
  // And every one of them still gets what changes.
  // The terminal comes online, as its first status would say.
  ASSERT_TRUE(h.store->ApplyLinkReports({{terminal, true, 1, "1.0"}}, {}, core::kNoHistory).ok());
  for (size_t i = 0; i < watches.size(); i += 37) {
    v1::TerminalEvent e;
    bool changed = false;
    while (!changed && watches[i]->reader->Read(&e)) {
      changed = e.kind() == v1::TerminalEvent::KIND_CHANGED && e.terminal().id() == terminal &&
                e.terminal().presence().online();
    }
    EXPECT_TRUE(changed) << "watch " << i << ": " << watches[i]->reader->Finish().error_message();
  }
}

}  // namespace
}  // namespace posfleet

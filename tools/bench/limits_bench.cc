// One tenant's viewer abuses the API while another tenant works: how much does the other tenant
// notice? Run by tools/bench/limits, which starts the server (with its call limits, and again
// without them) and two tenants of terminals. Phases, each --seconds long:
//   idle:  the victim alone, one call at a time (ListTerminals, a page of 50 of its terminals);
//   abuse: the victim again while the abuser's one token runs --threads loops of heavy selector
//          queries (pages of 1,000) as fast as answers come, and opens --streams WatchTerminals
//          streams it never reads.
// Prints the victim's p50/p99 in both phases and their ratio, and what the abuser got.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "posfleet/v1/terminal.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using posfleet::v1::TerminalService;

struct Flags {
  std::string server;
  std::string ca;
  std::string victim;  // tokens
  std::string abuser;
  int seconds = 10;
  int threads = 16;
  int streams = 2000;
  std::string selector = "region in (north,south,east,west),model,!retired";
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, int seconds = 30) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->AddMetadata("authorization", "Bearer " + token);
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// The victim's latencies over `seconds`, one call at a time.
std::vector<double> Victim(TerminalService::Stub& stub, const Flags& f, int* errors) {
  std::vector<double> ms;
  const auto end = Clock::now() + std::chrono::seconds(f.seconds);
  posfleet::v1::ListTerminalsRequest req;
  req.set_page_size(50);
  while (Clock::now() < end) {
    posfleet::v1::ListTerminalsResponse resp;
    const auto t0 = Clock::now();
    grpc::Status s = stub.ListTerminals(Ctx(f.victim).get(), req, &resp);
    ms.push_back(Ms(Clock::now() - t0));
    if (!s.ok()) ++*errors;
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"posfleet call-limits benchmark"};
  app.add_option("--server", f.server)->required();
  app.add_option("--ca", f.ca)->required();
  app.add_option("--victim-token", f.victim)->required();
  app.add_option("--abuser-token", f.abuser)->required();
  app.add_option("--seconds", f.seconds);
  app.add_option("--threads", f.threads);
  app.add_option("--streams", f.streams);
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(f.ca);
  std::stringstream pem;
  pem << in.rdbuf();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem.str();
  // Plain channels, no retry policy: a refusal comes back at once, and the abuser asks again.
  auto victim_channel = grpc::CreateChannel(f.server, grpc::SslCredentials(ssl));
  grpc::ChannelArguments abuser_args;
  abuser_args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own
  auto abuser_channel = grpc::CreateCustomChannel(f.server, grpc::SslCredentials(ssl), abuser_args);
  auto victim = TerminalService::NewStub(victim_channel);
  auto abuser = TerminalService::NewStub(abuser_channel);

  int idle_errors = 0;
  const std::vector<double> idle = Victim(*victim, f, &idle_errors);

  std::atomic<bool> stop{false};
  std::atomic<long> served{0}, refused{0}, failed{0}, rows{0};
  std::vector<std::thread> heavy;
  for (int i = 0; i < f.threads; ++i) {
    heavy.emplace_back([&] {
      posfleet::v1::ListTerminalsRequest req;
      req.set_page_size(1000);
      req.set_label_selector(f.selector);
      while (!stop.load()) {
        posfleet::v1::ListTerminalsResponse resp;
        grpc::Status s = abuser->ListTerminals(Ctx(f.abuser).get(), req, &resp);
        if (s.ok()) {
          ++served;
          rows += resp.terminals_size();
        } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++refused;
        } else {
          ++failed;
        }
      }
    });
  }
  // Streams, opened asynchronously and never read past their first event.
  grpc::CompletionQueue cq;
  struct Stream {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncReader<posfleet::v1::TerminalEvent>> reader;
    posfleet::v1::TerminalEvent first;
    grpc::Status status;
    int stage = 0;  // 0 starting, 1 reading the first event, 2 finishing
  };
  std::vector<std::unique_ptr<Stream>> streams;
  std::atomic<int> open_streams{0}, refused_streams{0}, failed_streams{0};
  posfleet::v1::WatchTerminalsRequest watch;
  for (int i = 0; i < f.streams; ++i) {
    auto s = std::make_unique<Stream>();
    s->ctx = Ctx(f.abuser, 3600);
    s->reader = abuser->AsyncWatchTerminals(s->ctx.get(), watch, &cq, s.get());
    streams.push_back(std::move(s));
  }
  std::thread streams_thread([&] {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      auto* s = static_cast<Stream*>(tag);
      if (s->stage == 0 && ok) {
        s->stage = 1;
        s->reader->Read(&s->first, s);
      } else if (s->stage == 1 && ok) {
        ++open_streams;  // it answered: open, and left unread from here on
        s->stage = 3;
      } else if (s->stage < 2) {
        s->stage = 2;
        s->reader->Finish(&s->status, s);
      } else if (s->stage == 2) {
        s->stage = 3;
        if (s->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++refused_streams;
        } else if (!s->status.ok() && s->status.error_code() != grpc::StatusCode::CANCELLED) {
          ++failed_streams;
        }
      }
    }
  });

  int abuse_errors = 0;
  const std::vector<double> abused = Victim(*victim, f, &abuse_errors);
  stop = true;
  for (std::thread& t : heavy) t.join();
  const int open_at_end = open_streams.load();
  for (auto& s : streams) s->ctx->TryCancel();
  // Cancelled streams finish on their own; the queue drains once they have.
  std::thread([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    cq.Shutdown();
  }).detach();
  streams_thread.join();

  const double idle_p99 = Pct(idle, 0.99);
  const double abuse_p99 = Pct(abused, 0.99);
  std::printf("victim_idle: %zu calls, p50 %.2f ms, p99 %.2f ms, %d errors\n", idle.size(),
              Pct(idle, 0.5), idle_p99, idle_errors);
  std::printf("victim_abused: %zu calls, p50 %.2f ms, p99 %.2f ms, %d errors\n", abused.size(),
              Pct(abused, 0.5), abuse_p99, abuse_errors);
  std::printf("victim_p99_ratio: %.2f (abused / idle)\n", idle_p99 > 0 ? abuse_p99 / idle_p99 : 0);
  std::printf(
      "abuser_heavy_queries: %.0f served/s (%.0f rows/s), %.0f refused/s, %ld other errors, "
      "%d threads\n",
      served.load() / static_cast<double>(f.seconds), rows.load() / static_cast<double>(f.seconds),
      refused.load() / static_cast<double>(f.seconds), failed.load(), f.threads);
  std::printf("abuser_streams: %d asked, %d open, %d refused, %d other errors\n", f.streams,
              open_at_end, refused_streams.load(), failed_streams.load());
  return 0;
}

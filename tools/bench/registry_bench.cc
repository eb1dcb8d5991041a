// Measures the terminal registry through the real gRPC API of a running posfleet-server:
// bulk import vs one-by-one creates, GetTerminal throughput, ListTerminals with a label selector.
// Run by tools/bench, which starts PostgreSQL and the server and reports the server's CPU and
// memory around this. Prints one line per figure.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/tenant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using posfleet::v1::TerminalService;

struct Flags {
  std::string server = "127.0.0.1:7443";
  std::string token;
  int terminals = 100000;
  int batch = 1000;
  int singles = 2000;
  int threads = 4;
  int seconds = 5;
  bool list_only = false;
  std::string label = "as found";
};

std::unique_ptr<grpc::ClientContext> Ctx(const Flags& f) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->AddMetadata("authorization", "Bearer " + f.token);
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return c;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s.error_message() << "\n";
    std::exit(1);
  }
}

struct Latencies {
  std::vector<double> ms;
  double Pct(double p) {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  }
};

posfleet::v1::TerminalSpec Spec(const std::string& merchant, const std::string& serial, int i) {
  posfleet::v1::TerminalSpec s;
  s.set_merchant_id(merchant);
  s.set_vendor(i % 3 ? "PAX" : "Verifone");
  s.set_model(i % 3 ? "A920" : "V400m");
  s.set_serial(serial);
  static const char* const kRegions[] = {"north", "south", "east", "west"};
  (*s.mutable_labels())["region"] = kRegions[i % 4];
  if (i % 10 == 0) (*s.mutable_labels())["pilot"] = "yes";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"registry_bench: posfleet registry figures through the gRPC API"};
  app.add_option("--server", f.server);
  app.add_option("--token", f.token)->required();
  app.add_option("--terminals", f.terminals)->check(CLI::Range(1000, 10000000));
  app.add_option("--batch", f.batch)->check(CLI::Range(1, 10000));
  app.add_option("--singles", f.singles)->check(CLI::Range(10, 1000000));
  app.add_option("--threads", f.threads)->check(CLI::Range(1, 64));
  app.add_option("--seconds", f.seconds)->check(CLI::Range(1, 600));
  app.add_flag("--list-only", f.list_only, "only the selector listing, over the existing estate");
  app.add_option("--label", f.label, "what to call the database state in the list figure");
  CLI11_PARSE(app, argc, argv);

  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(f.server, grpc::InsecureChannelCredentials(), args);
  auto tenants = posfleet::v1::TenantService::NewStub(channel);
  auto merchants = posfleet::v1::MerchantService::NewStub(channel);
  auto terminals = TerminalService::NewStub(channel);

  if (!f.list_only) {
    posfleet::v1::CreateTenantRequest tr;
    tr.set_name("bench " +
                std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
    posfleet::v1::Tenant tenant;
    Check(tenants->CreateTenant(Ctx(f).get(), tr, &tenant), "CreateTenant");
    posfleet::v1::CreateMerchantRequest mr;
    mr.set_tenant_id(tenant.id());
    mr.set_name("bench merchant");
    mr.set_mid("BENCH1");
    posfleet::v1::Merchant merchant;
    Check(merchants->CreateMerchant(Ctx(f).get(), mr, &merchant), "CreateMerchant");

    // 1. Bulk import.
    auto t0 = Clock::now();
    for (int start = 0; start < f.terminals; start += f.batch) {
      posfleet::v1::BatchCreateTerminalsRequest req;
      for (int i = start; i < std::min(f.terminals, start + f.batch); ++i) {
        *req.add_terminals() = Spec(merchant.id(), "B" + std::to_string(i), i);
      }
      posfleet::v1::BatchCreateTerminalsResponse resp;
      Check(terminals->BatchCreateTerminals(Ctx(f).get(), req, &resp), "BatchCreateTerminals");
      if (resp.created() != req.terminals_size()) {
        std::cerr << "batch created " << resp.created() << " of " << req.terminals_size() << "\n";
        return 1;
      }
    }
    const double import_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double import_rate = f.terminals / import_s;
    std::printf("bulk_import: %d terminals in batches of %d: %.0f terminals/s (%.1f s)\n",
                f.terminals, f.batch, import_rate, import_s);

    // 2. The naive way: one CreateTerminal call (and commit) per terminal.
    Latencies single;
    t0 = Clock::now();
    for (int i = 0; i < f.singles; ++i) {
      posfleet::v1::CreateTerminalRequest req;
      *req.mutable_terminal() = Spec(merchant.id(), "S" + std::to_string(i), i);
      posfleet::v1::Terminal t;
      auto c0 = Clock::now();
      Check(terminals->CreateTerminal(Ctx(f).get(), req, &t), "CreateTerminal");
      single.ms.push_back(Ms(Clock::now() - c0));
    }
    const double single_rate = f.singles / std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("single_create: %.0f terminals/s, p50 %.2f ms, p99 %.2f ms (1 client)\n",
                single_rate, single.Pct(0.5), single.Pct(0.99));
    std::printf("ratio bulk_import/single_create: %.1fx\n", import_rate / single_rate);

    // Ids to read back.
    std::vector<std::string> ids;
    posfleet::v1::ListTerminalsRequest lr;
    lr.set_page_size(1000);
    posfleet::v1::ListTerminalsResponse page;
    Check(terminals->ListTerminals(Ctx(f).get(), lr, &page), "ListTerminals");
    for (const auto& t : page.terminals()) ids.push_back(t.id());

    // 3. GetTerminal from several clients for a fixed time.
    std::atomic<bool> stop{false};
    std::vector<Latencies> per_thread(f.threads);
    std::vector<std::thread> workers;
    t0 = Clock::now();
    for (int w = 0; w < f.threads; ++w) {
      workers.emplace_back([&, w] {
        size_t i = w;
        while (!stop) {
          posfleet::v1::GetTerminalRequest req;
          req.set_id(ids[i++ % ids.size()]);
          posfleet::v1::Terminal t;
          auto c0 = Clock::now();
          Check(terminals->GetTerminal(Ctx(f).get(), req, &t), "GetTerminal");
          per_thread[w].ms.push_back(Ms(Clock::now() - c0));
        }
      });
    }
    while (Clock::now() - t0 < std::chrono::seconds(f.seconds)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    for (auto& w : workers) w.join();
    Latencies gets;
    for (auto& l : per_thread) gets.ms.insert(gets.ms.end(), l.ms.begin(), l.ms.end());
    const double get_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("get_terminal: %.0f calls/s, p50 %.2f ms, p99 %.2f ms (%d clients)\n",
                gets.ms.size() / get_s, gets.Pct(0.5), gets.Pct(0.99), f.threads);

  }  // !list_only

  // 4. A selector over the whole estate, paging through every match.
  Latencies list_pages;
  int matched = 0;
  posfleet::v1::ListTerminalsRequest sel;
  sel.set_label_selector("region=north,pilot");
  sel.set_page_size(100);
  const auto list_t0 = Clock::now();
  do {
    posfleet::v1::ListTerminalsResponse resp;
    auto c0 = Clock::now();
    Check(terminals->ListTerminals(Ctx(f).get(), sel, &resp), "ListTerminals");
    list_pages.ms.push_back(Ms(Clock::now() - c0));
    matched += resp.terminals_size();
    sel.set_page_token(resp.next_page_token());
  } while (!sel.page_token().empty());
  std::printf(
      "list_selector (%s): 'region=north,pilot': %d matches, %zu pages of 100, page p50 %.2f "
      "ms, p99 %.2f ms, all pages %.0f ms\n",
      f.label.c_str(), matched, list_pages.ms.size(), list_pages.Pct(0.5), list_pages.Pct(0.99),
      Ms(Clock::now() - list_t0));
  return 0;
}

#include "tools/sim/control.h"

#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/env.h"
#include "common/grpc_status.h"

namespace posfleet::sim {
namespace {

grpc::Status Reply(const absl::StatusOr<SimTerminalView>& view, v1::SimTerminal* out) {
  if (!view.ok()) return ToGrpc(view.status());
  out->set_serial(view->serial);
  out->set_terminal_id(view->terminal_id);
  out->set_state(view->state);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status SimControlService::Kill(grpc::ServerContext*, const v1::SimTerminalRef* req,
                                     v1::SimTerminal* resp) {
  return Reply(fleet_.Kill(req->terminal()), resp);
}

grpc::Status SimControlService::Freeze(grpc::ServerContext*, const v1::SimTerminalRef* req,
                                       v1::SimTerminal* resp) {
  return Reply(fleet_.Freeze(req->terminal()), resp);
}

grpc::Status SimControlService::Revive(grpc::ServerContext*, const v1::SimTerminalRef* req,
                                       v1::SimTerminal* resp) {
  return Reply(fleet_.Revive(req->terminal()), resp);
}

grpc::Status SimControlService::ListTerminals(grpc::ServerContext*,
                                              const v1::ListSimTerminalsRequest*,
                                              v1::ListSimTerminalsResponse* resp) {
  for (const SimTerminalView& v : fleet_.List()) {
    v1::SimTerminal* t = resp->add_terminals();
    t->set_serial(v.serial);
    t->set_terminal_id(v.terminal_id);
    t->set_state(v.state);
  }
  return grpc::Status::OK;
}

grpc::Status SimControlService::TxnStats(grpc::ServerContext*, const v1::TxnStatsRequest* req,
                                         v1::TxnStatsResponse* resp) {
  const SimTxnStats s = fleet_.TxnStats(req->reset_latency());
  resp->set_recorded(s.recorded);
  resp->set_refused(s.refused);
  resp->set_committed(s.committed);
  resp->set_backlog(s.backlog);
  resp->set_latency_count(s.latency_count);
  resp->set_p50_ms(absl::ToDoubleMilliseconds(s.p50));
  resp->set_p99_ms(absl::ToDoubleMilliseconds(s.p99));
  resp->set_max_ms(absl::ToDoubleMilliseconds(s.max));
  return grpc::Status::OK;
}

grpc::Status SimControlService::SetTxnRate(grpc::ServerContext*, const v1::SetTxnRateRequest* req,
                                           v1::SetTxnRateResponse*) {
  if (!(req->per_second() >= 0 && req->per_second() <= 1e6)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "per_second must be between 0 and 1000000");
  }
  fleet_.SetTransactionRate(req->per_second());
  return grpc::Status::OK;
}

std::string ControlSocket(const std::string& state_dir) { return state_dir + "/control.sock"; }

std::unique_ptr<grpc::Server> ServeControl(SimControlService& service,
                                           const std::string& state_dir) {
  const std::string path = ControlSocket(state_dir);
  unlink(path.c_str());  // left behind by a simulator that was killed
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "posfleet-sim: cannot serve the control socket " << path << "\n";
    return nullptr;
  }
  chmod(path.c_str(), 0600);  // only its owner may kill terminals
  return server;
}

namespace {

// A stub on the running simulator's control socket; null, with a message, when none runs.
std::unique_ptr<v1::SimControl::Stub> Connect(const std::string& verb,
                                              const std::string& state_dir) {
  const std::string path = ControlSocket(state_dir);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "posfleet-sim " << verb << ": no simulator running with --state-dir " << state_dir
              << " (" << path << " is missing)\n";
    return nullptr;
  }
  return v1::SimControl::NewStub(
      grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials()));
}

}  // namespace

int StatsCommand(const std::string& state_dir, bool reset) {
  auto stub = Connect("stats", state_dir);
  if (!stub) return 1;
  grpc::ClientContext ctx;
  ctx.set_deadline(NetworkDeadline(absl::Seconds(30)));
  v1::TxnStatsRequest req;
  req.set_reset_latency(reset);
  v1::TxnStatsResponse r;
  if (grpc::Status s = stub->TxnStats(&ctx, req, &r); !s.ok()) {
    std::cerr << "posfleet-sim stats: " << s.error_message() << "\n";
    return 1;
  }
  std::cout << "recorded=" << r.recorded() << " refused=" << r.refused()
            << " committed=" << r.committed() << " backlog=" << r.backlog()
            << " latency_count=" << r.latency_count() << " p50_ms=" << r.p50_ms()
            << " p99_ms=" << r.p99_ms() << " max_ms=" << r.max_ms() << "\n";
  return 0;
}

int TxnRateCommand(const std::string& state_dir, double per_second) {
  auto stub = Connect("txn-rate", state_dir);
  if (!stub) return 1;
  grpc::ClientContext ctx;
  ctx.set_deadline(NetworkDeadline(absl::Seconds(30)));
  v1::SetTxnRateRequest req;
  req.set_per_second(per_second);
  v1::SetTxnRateResponse resp;
  if (grpc::Status s = stub->SetTxnRate(&ctx, req, &resp); !s.ok()) {
    std::cerr << "posfleet-sim txn-rate: " << s.error_message() << "\n";
    return 1;
  }
  std::cout << "transactions at " << per_second << "/s across the fleet\n";
  return 0;
}

int ControlCommand(const std::string& verb, const std::string& ref, const std::string& state_dir) {
  auto stub = Connect(verb, state_dir);
  if (!stub) return 1;
  grpc::ClientContext ctx;
  ctx.set_deadline(NetworkDeadline(absl::Seconds(30)));
  grpc::Status s;
  if (verb == "list") {
    v1::ListSimTerminalsResponse resp;
    s = stub->ListTerminals(&ctx, {}, &resp);
    if (s.ok()) {
      std::cout << "SERIAL  TERMINAL  STATE\n";
      for (const auto& t : resp.terminals()) {
        std::cout << t.serial() << "  " << (t.terminal_id().empty() ? "-" : t.terminal_id()) << "  "
                  << t.state() << "\n";
      }
      return 0;
    }
  } else {
    v1::SimTerminalRef req;
    req.set_terminal(ref);
    v1::SimTerminal resp;
    if (verb == "kill") s = stub->Kill(&ctx, req, &resp);
    if (verb == "freeze") s = stub->Freeze(&ctx, req, &resp);
    if (verb == "revive") s = stub->Revive(&ctx, req, &resp);
    if (s.ok()) {
      static const char* const kWhat[][2] = {
          {"kill", "connection dropped without a goodbye: the broker publishes its Last Will"},
          {"freeze", "connected but silent: offline once the server's offline timeout passes"},
          {"revive", "running again"}};
      const char* what = "";
      for (const auto& w : kWhat) {
        if (verb == w[0]) what = w[1];
      }
      std::cout << resp.serial() << " (" << resp.terminal_id() << "): " << resp.state() << "; "
                << what << "\n";
      return 0;
    }
  }
  std::cerr << "posfleet-sim " << verb << ": " << s.error_message() << "\n";
  return 1;
}

}  // namespace posfleet::sim

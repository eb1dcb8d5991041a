// posfleet-agent: wiring only. Without a subcommand it runs the agent; `posfleet-agent txn ...`
// talks to a running agent's local API, as a payment application would.

#include <grp.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "agent/local_api.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/pan.h"
#include "common/process.h"
#include "common/txn_record.h"
#include "posfleet/v1/agent_local.grpc.pb.h"

namespace {

struct TxnFlags {
  std::string txn_id, currency, type = "sale", result = "approved", entry_mode, time;
  int64_t amount = -1;
  std::string response_code, scheme, masked_pan, stan, auth_code, mid, tid;
};

std::unique_ptr<posfleet::v1::AgentLocal::Stub> LocalStub(const std::string& state_dir) {
  return posfleet::v1::AgentLocal::NewStub(grpc::CreateChannel(
      posfleet::agent::LocalApiAddress(state_dir), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(posfleet::NetworkDeadline(absl::Seconds(10)));
  return ctx;
}

int Fail(const grpc::Status& s) {
  std::cerr << "posfleet-agent: " << s.error_message() << "\n";
  return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

int Record(const std::string& state_dir, const TxnFlags& f) {
  posfleet::v1::RecordTransactionRequest req;
  posfleet::v1::TxnRecord& r = *req.mutable_record();
  r.set_txn_id(f.txn_id);
  absl::Time t = posfleet::RealEnv().Now();
  std::string err;
  if (!f.time.empty() && !absl::ParseTime(absl::RFC3339_full, f.time, &t, &err)) {
    std::cerr << "posfleet-agent: --time: expected RFC 3339, like 2026-11-23T10:15:00Z\n";
    return 2;
  }
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
  r.set_amount_minor(f.amount);
  r.set_currency(f.currency);
  auto type = posfleet::ParseTxnType(f.type);
  auto result = posfleet::ParseTxnResult(f.result);
  auto mode = posfleet::ParseEntryMode(f.entry_mode);
  if (!type || !result || (!f.entry_mode.empty() && !mode)) {
    std::cerr << "posfleet-agent: --type, --result or --entry-mode: not a known value\n";
    return 2;
  }
  r.set_type(*type);
  r.set_result(*result);
  if (mode) r.set_entry_mode(*mode);
  r.set_response_code(f.response_code);
  r.set_scheme(f.scheme);
  r.set_masked_pan(f.masked_pan);
  r.set_stan(f.stan);
  r.set_auth_code(f.auth_code);
  r.set_mid(f.mid);
  r.set_tid(f.tid);
  posfleet::v1::RecordTransactionResponse resp;
  if (grpc::Status s = LocalStub(state_dir)->RecordTransaction(Call().get(), req, &resp); !s.ok()) {
    return Fail(s);
  }
  std::cout << (resp.duplicate() ? "already recorded: " : "recorded: ")
            << posfleet::Redact(f.txn_id) << " as outbox seq " << resp.seq() << " ("
            << resp.outbox_records() << " waiting for the server)\n";
  return 0;
}

int Status(const std::string& state_dir) {
  posfleet::v1::OutboxStatusResponse resp;
  if (grpc::Status s = LocalStub(state_dir)->OutboxStatus(Call().get(), {}, &resp); !s.ok()) {
    return Fail(s);
  }
  std::cout << "connected:      " << (resp.connected() ? "yes" : "no") << "\n"
            << "waiting:        " << resp.records() << " of " << resp.capacity() << "\n"
            << "in flight:      " << resp.in_flight() << "\n"
            << "oldest waiting: " << resp.oldest_age_seconds() << " s\n"
            << "acknowledged:   " << resp.acknowledged() << " (since start)\n"
            << "rejected:       " << resp.rejected() << " (since start)\n"
            << "refused (full): " << resp.refused_full() << " (since start)\n";
  return 0;
}

int Rejected(const std::string& state_dir) {
  posfleet::v1::ListRejectedResponse resp;
  if (grpc::Status s = LocalStub(state_dir)->ListRejected(Call().get(), {}, &resp); !s.ok()) {
    return Fail(s);
  }
  for (const auto& r : resp.rejected()) {
    std::cout << (r.txn_id().empty() ? "(unusable id)" : r.txn_id()) << "\t" << r.field() << "\t"
              << r.reason() << "\n";
  }
  return 0;
}

int ShowConfig(const std::string& state_dir, const std::string& changed_from, int wait) {
  posfleet::v1::GetConfigRequest req;
  req.set_changed_from_hash(changed_from);
  req.set_wait_seconds(static_cast<uint32_t>(wait));
  posfleet::v1::GetConfigResponse resp;
  auto ctx = Call();
  ctx->set_deadline(posfleet::NetworkDeadline(absl::Seconds(wait + 10)));
  if (grpc::Status s = LocalStub(state_dir)->GetConfig(ctx.get(), req, &resp); !s.ok()) {
    return Fail(s);
  }
  if (!resp.present()) {
    std::cout << "no parameter set applied yet\n";
    return 0;
  }
  std::cout << "revision " << resp.revision() << ", hash " << resp.hash() << "\n";
  std::set<std::string> secret(resp.secret_keys().begin(), resp.secret_keys().end());
  std::map<std::string, std::string> sorted(resp.values().begin(), resp.values().end());
  for (const auto& [k, v] : sorted) {
    std::cout << k << " = " << (secret.count(k) != 0 ? "(secret, set)" : v) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  posfleet::BlockTerminationSignals();
  posfleet::DisableMutexDeadlockDetection();

  posfleet::agent::AgentOptions o;
  int heartbeat_seconds = 30;
  std::string log_level = "info";
  CLI::App app{"posfleet-agent: keeps a payment terminal in its posfleet estate"};
  app.add_option("--state-dir", o.state_dir, "where key, certificates, settings and outbox live")
      ->required();
  app.add_option("--server", o.server,
                 "posfleet-server's address for terminals (its --device-listen), for enrollment "
                 "and renewal")
      ->envname("POSFLEET_DEVICE_SERVER");
  app.add_option("--server-ca", o.server_ca,
                 "PEM CA bundle the server's TLS certificate must chain to (required)")
      ->envname("POSFLEET_SERVER_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--fleet-ca", o.fleet_ca,
                 "PEM fleet CA(s) the server may name for the broker (default: --server-ca)")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure-plaintext-enrollment-for-development",
               o.insecure_plaintext_for_development,
               "enroll over plaintext gRPC without authenticating the server (never in the field)");
  app.add_option("--vendor", o.vendor, "this terminal's vendor, as provisioned");
  app.add_option("--serial", o.serial, "this terminal's serial, as provisioned");
  // The code never on the command line, which every local user can read in /proc/PID/cmdline.
  std::string code_file, code_on_command_line;
  app.add_option("--activation-code-file", code_file,
                 "file holding the one-time code from a technician, - for stdin (first start "
                 "only; or the environment variable POSFLEET_ACTIVATION_CODE)");
  app.add_option("--activation-code", code_on_command_line)->group("");  // refused, see below
  std::string local_api_group;
  app.add_option("--local-api-group", local_api_group,
                 "a group whose members may use the local API too (default: this user alone)");
  app.add_option("--heartbeat-interval", heartbeat_seconds, "seconds between heartbeats")
      ->check(CLI::Range(1, 3600));
  int ack_timeout_seconds = 15;
  app.add_option("--ack-timeout", ack_timeout_seconds,
                 "seconds to wait for a batch's ack before sending it again")
      ->check(CLI::Range(2, 3600));
  app.add_option("--outbox-capacity", o.outbox_capacity,
                 "transaction records the outbox holds at most; beyond, new ones are refused")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--log-level", log_level)
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  CLI::App* txn = app.add_subcommand("txn", "talk to the running agent as a payment app would");
  txn->require_subcommand(1);
  TxnFlags f;
  CLI::App* record = txn->add_subcommand("record", "hand a transaction record to the outbox");
  record->add_option("--txn-id", f.txn_id, "unique per terminal")->required();
  record->add_option("--amount", f.amount, "in minor units (cents)")->required();
  record->add_option("--currency", f.currency, "ISO 4217, like EUR")->required();
  record->add_option("--type", f.type, "sale, refund, void, pre-auth, completion, reversal");
  record->add_option("--result", f.result, "approved, declined, failed, cancelled");
  record->add_option("--entry-mode", f.entry_mode, "chip, contactless, swipe, manual");
  record->add_option("--time", f.time, "RFC 3339; default now");
  record->add_option("--response-code", f.response_code);
  record->add_option("--scheme", f.scheme, "visa, mastercard, ...");
  record->add_option("--masked-pan", f.masked_pan, "first six and last four digits at most");
  record->add_option("--stan", f.stan);
  record->add_option("--auth-code", f.auth_code);
  record->add_option("--mid", f.mid);
  record->add_option("--tid", f.tid);
  CLI::App* status = txn->add_subcommand("status", "the outbox: waiting, in flight, refused");
  CLI::App* rejected = txn->add_subcommand("rejected", "records the server refused, newest first");
  CLI::App* config = app.add_subcommand("config", "the parameter set in force on this terminal");
  config->require_subcommand(1);
  std::string changed_from;
  int wait_seconds = 0;
  CLI::App* show = config->add_subcommand("show", "revision and values (secrets masked)");
  show->add_option("--changed-from", changed_from, "wait until the hash differs from this one");
  show->add_option("--wait", wait_seconds, "seconds to wait with --changed-from")
      ->check(CLI::Range(0, 300));
  CLI11_PARSE(app, argc, argv);
  if (show->parsed()) return ShowConfig(o.state_dir, changed_from, wait_seconds);
  if (record->parsed()) return Record(o.state_dir, f);
  if (status->parsed()) return Status(o.state_dir);
  if (rejected->parsed()) return Rejected(o.state_dir);
  if (!code_on_command_line.empty()) {
    std::cerr << "posfleet-agent: --activation-code: not on the command line, which any local "
                 "user can read; use --activation-code-file FILE (- for stdin) or "
                 "POSFLEET_ACTIVATION_CODE\n";
    return 2;
  }
  if (!code_file.empty()) {
    std::stringstream text;
    if (code_file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(code_file);
      if (!in) {
        std::cerr << "posfleet-agent: --activation-code-file " << code_file << ": cannot read\n";
        return 2;
      }
      text << in.rdbuf();
    }
    o.activation_code = std::string(absl::StripAsciiWhitespace(text.str()));
    if (o.activation_code.empty() || o.activation_code.size() > 64) {
      std::cerr << "posfleet-agent: --activation-code-file: expected one code like ABCDE-FGHJK\n";
      return 2;
    }
  } else if (const char* env = std::getenv("POSFLEET_ACTIVATION_CODE"); env != nullptr) {
    o.activation_code = env;
  }
  if (o.vendor.empty() || o.serial.empty()) {
    std::cerr << "posfleet-agent: --vendor and --serial are required to run the agent\n";
    return 2;
  }

  if (!local_api_group.empty()) {
    std::vector<char> buf(16384);
    struct group entry {};
    struct group* found = nullptr;
    if (getgrnam_r(local_api_group.c_str(), &entry, buf.data(), buf.size(), &found) != 0 ||
        found == nullptr) {
      std::cerr << "posfleet-agent: --local-api-group " << local_api_group << ": no such group\n";
      return 2;
    }
    o.local_api_group = found->gr_gid;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  o.heartbeat_interval = absl::Seconds(heartbeat_seconds);
  o.ack_timeout = absl::Seconds(ack_timeout_seconds);

  posfleet::agent::HostHealthProvider health(o.state_dir);
  posfleet::agent::Agent agent(o, health);
  if (absl::Status s = agent.Open(); !s.ok()) {
    std::cerr << "posfleet-agent: " << s.ToString() << "\n";
    return 1;
  }
  posfleet::agent::LocalApi local(agent);
  if (absl::Status s = local.Start(o.state_dir + "/agent.sock", o.local_api_group); !s.ok()) {
    std::cerr << "posfleet-agent: local API: " << s.ToString() << "\n";
    return 1;
  }
  std::thread signals([&] {
    posfleet::WaitForTerminationSignal();
    agent.Stop();
  });
  signals.detach();
  absl::Status s = agent.Run();
  local.Stop();
  if (!s.ok()) {
    std::cerr << "posfleet-agent: " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

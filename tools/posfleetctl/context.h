#pragma once

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "posfleet/v1/audit.grpc.pb.h"
#include "posfleet/v1/config.grpc.pb.h"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/tenant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "posfleet/v1/token.grpc.pb.h"
#include "posfleet/v1/transaction.grpc.pb.h"
#include "tools/posfleetctl/output.h"

namespace posfleet::ctl {

struct Options {
  std::string server = "127.0.0.1:7443";
  std::string token;
  std::string tls_ca;  // PEM; set to use TLS
  std::string output = "table";
  int timeout_seconds = 30;
};

// Shared by all verbs: options, the channel and stubs (made on first use), and the exit code.
class Context {
 public:
  Options options;
  int exit_code = 0;

  Format format() const { return options.output == "json" ? Format::kJson : Format::kTable; }

  // A call context carrying the bearer token and the deadline.
  std::unique_ptr<grpc::ClientContext> Call();

  // Calls `rpc` of `stub` with `req` in a Call() context, once `req` passes the text rule for
  // everything posfleetctl reads from flags and files (common/text_guard.h: UTF-8, no control
  // characters, no card number). A request that breaks it is not sent: INVALID_ARGUMENT.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Invoke(Stub& stub,
                      grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                      const Req& req, Resp* resp) {
    if (grpc::Status s = GuardRequest(req); !s.ok()) return s;
    grpc::Status s = (stub.*rpc)(Call().get(), req, resp);
    if (NeedsTenant(s)) {
      // A global token without --tenant: with a single tenant there is nothing to choose.
      Req again = req;
      if (FillOnlyTenant(again)) return (stub.*rpc)(Call().get(), again, resp);
    }
    return s;
  }
  // Invoke, Check, and with -o json the response printed whole: true when the caller is left to
  // print it as a table (the call succeeded and the output is a table).
  template <typename Stub, typename Req, typename Resp>
  bool InvokeForTable(Stub& stub,
                      grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                      const Req& req, Resp* resp) {
    if (!Check(Invoke(stub, rpc, req, resp))) return false;
    if (format() != Format::kJson) return true;
    std::cout << ToJson(*resp) << "\n";
    return false;
  }
  // Whether the server refused a call for want of a tenant (a global token without --tenant).
  static bool NeedsTenant(const grpc::Status& status);
  // Sets the empty `tenant_id` of `req` to the only tenant there is, saying so on stderr. False
  // when `req` has no such field, it is set, or there are several tenants (or none).
  bool FillOnlyTenant(google::protobuf::Message& req);
  // The text rule alone, for calls that are not unary (watch).
  static grpc::Status GuardRequest(const google::protobuf::Message& req);

  v1::TerminalService::Stub& terminals();
  v1::MerchantService::Stub& merchants();
  v1::TenantService::Stub& tenants();
  v1::TokenService::Stub& tokens();
  v1::AuditService::Stub& audit();
  v1::TransactionService::Stub& transactions();
  v1::ConfigService::Stub& config();

  // Prints "posfleetctl: CODE: message" and a hint, and sets exit code 1. Returns false.
  bool Check(const grpc::Status& status);
  // For errors found before any call (bad file, bad flag combination): exit code 2.
  void UsageError(const std::string& message);

 private:
  std::shared_ptr<grpc::Channel> channel();

  std::shared_ptr<grpc::Channel> channel_;
  std::optional<std::string> only_tenant_;  // looked up once: "" when there is not exactly one
  std::unique_ptr<v1::TerminalService::Stub> terminals_;
  std::unique_ptr<v1::MerchantService::Stub> merchants_;
  std::unique_ptr<v1::TenantService::Stub> tenants_;
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::TransactionService::Stub> transactions_;
  std::unique_ptr<v1::ConfigService::Stub> config_;
};

}  // namespace posfleet::ctl

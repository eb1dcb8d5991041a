#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "common/text_guard.h"
#include "server/api/convert.h"
#include "server/core/audited.h"
#include "server/core/call_limits.h"
#include "server/core/token_registry.h"

namespace posfleet::api {

// What every RPC does around its own work: authenticate the bearer token, apply the text rule to
// every string field of the request (common/text_guard.h: UTF-8, no control characters, no card
// number; refusals counted in posfleet_api_text_refused_total{method}), run, count the outcome
// (posfleet_api_requests_total{method,code}) and translate the status to gRPC once.
class Handler {
 public:
  // Refusals of mutating calls that the core did not see are audited through `store`.
  // Every authenticated call is admitted through `limits` (core/call_limits.h) first.
  Handler(core::TokenRegistry& tokens, core::AuditLog& store, Counters& counters,
          core::CallLimits& limits)
      : tokens_(tokens), store_(store), counters_(counters), limits_(limits) {}

  using CallKind = core::CallLimits::CallKind;
  struct Admitted {
    core::Actor actor;
    core::CallLimits::Ticket ticket;
  };

  template <typename Fn>
  grpc::Status Run(grpc::ServerContextBase* ctx, absl::string_view method,
                   const google::protobuf::Message& request, Fn&& fn,
                   CallKind kind = CallKind::kUnary) {
    absl::Status status;
    absl::StatusOr<Admitted> admitted = Enter(ctx, method, request, kind);
    if (!admitted.ok()) {
      status = admitted.status();
    } else {
      core::AuditedCall call;
      if (status = Guard(method, request); status.ok()) status = fn(admitted->actor);
      if (!status.ok() && !call.handled()) AuditRefusal(admitted->actor, method, status);
    }
    Record(method, status);
    return ToGrpc(status);
  }

  // For the methods whose caller is a terminal proving itself without a token (Enroll with an
  // activation code, RenewCertificate with its certificate): counts and translates only.
  template <typename Fn>
  grpc::Status RunAnonymous(absl::string_view method, const google::protobuf::Message& request,
                            Fn&& fn) {
    absl::Status status = Guard(method, request);
    if (status.ok()) status = fn();
    Record(method, status);
    return ToGrpc(status);
  }

  // The value of the call's authorization metadata, if it has one.
  static std::optional<absl::string_view> Authorization(grpc::ServerContextBase* ctx);
  // The caller of `ctx` by its bearer token.
  absl::StatusOr<core::Actor> Authenticate(grpc::ServerContextBase* ctx);
  // The same from the authorization header's value (a long-lived stream checks it again).
  absl::StatusOr<core::Actor> AuthenticateHeader(absl::string_view authorization);

  // For a call that outlives its handler (a stream on the callback API): authenticates, admits
  // and checks the request text as Run does; the call reports its end with Record.
  absl::StatusOr<Admitted> Begin(grpc::ServerContextBase* ctx, absl::string_view method,
                                 const google::protobuf::Message& request, CallKind kind);
  void Record(absl::string_view method, const absl::Status& status);

 private:
  // A refusal is counted (posfleet_api_limited_total{method,limit}) and tells the client when to
  // retry in grpc-retry-pushback-ms, which gRPC's own retry policy honours.
  // The limits (core/call_limits.h) around authentication: the caller's rate by the secret it
  // presents first (a refusal costs no database query), then the token and its tenant's.
  absl::StatusOr<Admitted> Enter(grpc::ServerContextBase* ctx, absl::string_view method,
                                 const google::protobuf::Message& request, CallKind kind);
  absl::Status Limited(grpc::ServerContextBase* ctx, absl::string_view method,
                       std::optional<core::LimitKind> refused_by, absl::Status status);
  absl::Status Guard(absl::string_view method, const google::protobuf::Message& request);
  // One audit row for a refused mutating call the core never saw, under the caller's scope.
  void AuditRefusal(const core::Actor& actor, absl::string_view method, const absl::Status& status);

  core::TokenRegistry& tokens_;
  core::AuditLog& store_;
  Counters& counters_;
  core::CallLimits& limits_;
};

}  // namespace posfleet::api

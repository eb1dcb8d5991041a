#include "server/api/handler.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace posfleet::api {

absl::StatusOr<core::Actor> Handler::Authenticate(grpc::ServerContextBase* ctx) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing API token: send metadata \"authorization: Bearer pft_...\"");
  }
  return AuthenticateHeader(absl::string_view(it->second.data(), it->second.size()));
}

absl::StatusOr<core::Actor> Handler::AuthenticateHeader(absl::string_view value) {
  if (!absl::StartsWithIgnoreCase(value, "bearer ")) {
    return absl::UnauthenticatedError("authorization metadata must be \"Bearer <token>\"");
  }
  return tokens_.Authenticate(absl::StripAsciiWhitespace(value.substr(7)));
}

absl::StatusOr<Handler::Admitted> Handler::Begin(grpc::ServerContextBase* ctx,
                                                 absl::string_view method,
                                                 const google::protobuf::Message& request,
                                                 CallKind kind) {
  absl::StatusOr<core::Actor> actor = Authenticate(ctx);
  if (!actor.ok()) return actor.status();
  absl::StatusOr<core::CallLimits::Ticket> ticket = Admit(ctx, method, *actor, kind);
  if (!ticket.ok()) return ticket.status();
  if (absl::Status s = Guard(method, request); !s.ok()) return s;
  return Admitted{*std::move(actor), *std::move(ticket)};
}

absl::StatusOr<core::CallLimits::Ticket> Handler::Admit(grpc::ServerContextBase* ctx,
                                                        absl::string_view method,
                                                        const core::Actor& actor, CallKind kind) {
  std::optional<core::LimitKind> refused_by;
  absl::StatusOr<core::CallLimits::Ticket> ticket = limits_.Admit(actor, kind, &refused_by);
  if (ticket.ok()) return ticket;
  counters_.Add("posfleet_api_limited_total",
                absl::StrCat("method=\"", method, "\",limit=\"",
                             refused_by ? core::LimitName(*refused_by) : "unknown", "\""));
  if (std::optional<int64_t> ms = core::RetryAfterMs(ticket.status())) {
    ctx->AddTrailingMetadata("grpc-retry-pushback-ms", absl::StrCat(*ms));
  }
  return ticket;
}

absl::Status Handler::Guard(absl::string_view method, const google::protobuf::Message& request) {
  absl::Status s = CheckMessageText(request);
  if (!s.ok()) {
    counters_.Add("posfleet_api_text_refused_total", absl::StrCat("method=\"", method, "\""));
  }
  return s;
}

void Handler::AuditRefusal(const core::Actor& actor, absl::string_view method,
                           const absl::Status& status) {
  std::optional<core::Method> m = core::MethodByRpcName(method);
  if (!m || !core::Mutates(*m)) return;
  core::RecordFailure(store_, core::BeginAudit(actor, *m, "request", ""), status);
}

void Handler::Record(absl::string_view method, const absl::Status& status) {
  const std::string code = absl::StatusCodeToString(status.code());
  counters_.Add("posfleet_api_requests_total",
                absl::StrCat("method=\"", method, "\",code=\"", code, "\""));
  if (absl::IsInternal(status) || absl::IsUnavailable(status) || absl::IsUnknown(status)) {
    spdlog::warn("{} failed: {}", method, status.ToString());
  } else if (!status.ok()) {
    spdlog::debug("{} refused: {}", method, status.ToString());
  }
}

}  // namespace posfleet::api

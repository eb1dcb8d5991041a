#include "server/api/handler.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace posfleet::api {

std::optional<absl::string_view> Handler::Authorization(grpc::ServerContextBase* ctx) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<core::Actor> Handler::Authenticate(grpc::ServerContextBase* ctx) {
  std::optional<absl::string_view> authorization = Authorization(ctx);
  if (!authorization) {
    return absl::UnauthenticatedError(
        "missing API token: send metadata \"authorization: Bearer pft_...\"");
  }
  return AuthenticateHeader(*authorization);
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
  ASSIGN_OR_RETURN(Admitted admitted, Enter(ctx, method, request, kind));
  RETURN_IF_ERROR(Guard(method, request));
  return admitted;
}

namespace {

// What a call counts for against the rates: a page of N rows as N/100 calls, at least one.
double CallCost(const google::protobuf::Message& request) {
  const google::protobuf::FieldDescriptor* page =
      request.GetDescriptor()->FindFieldByName("page_size");
  if (page == nullptr || page->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32) {
    return 1;
  }
  const int32_t size = request.GetReflection()->GetInt32(request, page);
  return std::max(1.0, size / 100.0);
}

}  // namespace

absl::StatusOr<Handler::Admitted> Handler::Enter(grpc::ServerContextBase* ctx,
                                                 absl::string_view method,
                                                 const google::protobuf::Message& request,
                                                 CallKind kind) {
  const double cost = CallCost(request);
  if (std::optional<absl::string_view> authorization = Authorization(ctx)) {
    std::optional<core::LimitKind> refused_by;
    absl::Status s = limits_.AdmitCaller(Sha256Hex(*authorization), cost, &refused_by);
    if (!s.ok()) return Limited(ctx, method, refused_by, s);
  }
  ASSIGN_OR_RETURN(core::Actor actor, Authenticate(ctx));
  std::optional<core::LimitKind> refused_by;
  absl::StatusOr<core::CallLimits::Ticket> ticket = limits_.Admit(actor, kind, cost, &refused_by);
  if (!ticket.ok()) return Limited(ctx, method, refused_by, ticket.status());
  return Admitted{std::move(actor), *std::move(ticket)};
}

absl::Status Handler::Limited(grpc::ServerContextBase* ctx, absl::string_view method,
                              std::optional<core::LimitKind> refused_by, absl::Status status) {
  counters_.Add("posfleet_api_limited_total",
                absl::StrCat("method=\"", method, "\",limit=\"",
                             refused_by ? core::LimitName(*refused_by) : "unknown", "\""));
  if (std::optional<int64_t> ms = core::RetryAfterMs(status)) {
    ctx->AddTrailingMetadata("grpc-retry-pushback-ms", absl::StrCat(*ms));
  }
  return status;
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

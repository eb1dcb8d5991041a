#include "tools/posfleetctl/context.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/api_channel.h"
#include "common/env.h"
#include "common/text_guard.h"
#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "ERROR";
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> Context::channel() {
  if (channel_) return channel_;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    std::ifstream in(options.tls_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  channel_ = ApiChannel(options.server, creds);
  return channel_;
}

grpc::Status Context::GuardRequest(const google::protobuf::Message& req) {
  absl::Status s = CheckMessageText(req);
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(s.message(), " (not sent to the server)"));
}

bool Context::NeedsTenant(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
         status.error_message().rfind("tenant_id: is required", 0) == 0;
}

bool Context::FillOnlyTenant(google::protobuf::Message& req) {
  const google::protobuf::FieldDescriptor* field =
      req.GetDescriptor()->FindFieldByName("tenant_id");
  if (field == nullptr || field->is_repeated() ||
      field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
    return false;
  }
  const google::protobuf::Reflection* reflection = req.GetReflection();
  if (!reflection->GetString(req, field).empty()) return false;
  if (!only_tenant_) {
    only_tenant_ = "";
    v1::ListTenantsRequest list;
    list.set_page_size(2);
    v1::ListTenantsResponse resp;
    if (tenants().ListTenants(Call().get(), list, &resp).ok() && resp.tenants_size() == 1) {
      only_tenant_ = resp.tenants(0).id();
      std::cerr << "posfleetctl: using tenant " << *only_tenant_ << " (" << resp.tenants(0).name()
                << "), the only one; --tenant chooses another\n";
    }
  }
  if (only_tenant_->empty()) return false;
  reflection->SetString(&req, field, *only_tenant_);
  return true;
}

std::unique_ptr<grpc::ClientContext> Context::Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!options.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options.token);
  ctx->set_deadline(NetworkDeadline(absl::Seconds(options.timeout_seconds)));
  return ctx;
}

#define POSFLEET_STUB(name, Service)                         \
  v1::Service::Stub& Context::name() {                       \
    if (!name##_) name##_ = v1::Service::NewStub(channel()); \
    return *name##_;                                         \
  }
POSFLEET_STUB(terminals, TerminalService)
POSFLEET_STUB(merchants, MerchantService)
POSFLEET_STUB(tenants, TenantService)
POSFLEET_STUB(tokens, TokenService)
POSFLEET_STUB(audit, AuditService)
POSFLEET_STUB(transactions, TransactionService)
POSFLEET_STUB(config, ConfigService)
#undef POSFLEET_STUB

bool Context::Check(const grpc::Status& status) {
  if (status.ok()) return true;
  std::cerr << "posfleetctl: " << CodeName(status.error_code()) << ": " << status.error_message()
            << "\n";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::cerr << "hint: is posfleet-server running at " << options.server
                << "? (--server or POSFLEET_SERVER); retrying later is safe\n";
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::cerr << "hint: pass an API token with --token or POSFLEET_TOKEN\n";
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "hint: `posfleetctl tokens whoami` shows this token's role and tenant\n";
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      // The API names its fields; say which flag that is.
      if (status.error_message().rfind("tenant_id: is required", 0) == 0) {
        std::cerr << "hint: there are several tenants: give --tenant TENANT_ID (`posfleetctl "
                     "tenants list` shows them)\n";
      }
      break;
    case grpc::StatusCode::ABORTED:
      std::cerr << "hint: someone changed it since; look again (a --dry-run shows the revision to "
                   "pass with --if-revision) and retry\n";
      break;
    default:
      break;
  }
  exit_code = 1;
  return false;
}

void Context::UsageError(const std::string& message) {
  std::cerr << "posfleetctl: " << message << "\n";
  exit_code = 2;
}

bool ParseWhen(Context& ctx, const std::string& flag, const std::string& text,
               google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string err;
  absl::Duration ago;
  std::string d = text;
  if (!d.empty() && d.back() == 'd') d = std::to_string(24 * std::atoll(d.c_str())) + "h";
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    if (!absl::ParseDuration(d, &ago) || ago < absl::ZeroDuration()) {
      ctx.UsageError(flag +
                     ": use RFC 3339 (2026-11-21T10:00:00Z) or a duration ago (90m, 2h, 7d)");
      return false;
    }
    t = RealEnv().Now() - ago;
  }
  out->set_seconds(absl::ToUnixSeconds(t));
  return true;
}

}  // namespace posfleet::ctl

#include "server/api/api_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/api/services.h"
#include "server/api/unreadable_requests.h"

namespace posfleet::api {
namespace {

constexpr const char* kServiceNames[] = {
    "posfleet.v1.TerminalService",    "posfleet.v1.MerchantService",
    "posfleet.v1.TenantService",      "posfleet.v1.TokenService",
    "posfleet.v1.AuditService",       "posfleet.v1.EnrollmentService",
    "posfleet.v1.TransactionService", "posfleet.v1.ConfigService"};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

struct ApiServer::Parts {
  Parts(core::Store& store, Counters& counters, core::ChangeFeed& feed,
        core::EnrollmentSettings settings, ConfigSettings config,
        core::CallLimitOptions limit_options)
      : limits(limit_options),
        terminals(store),
        merchants(store),
        tenants(store),
        tokens(store),
        audit(store),
        enrollment(store, std::move(settings)),
        watch(terminals, store, feed),
        handler(tokens, store, counters, limits),
        terminal_service(handler, terminals, enrollment, watch),
        merchant_service(handler, merchants),
        tenant_service(handler, tenants),
        token_service(handler, tokens),
        audit_service(handler, audit),
        enrollment_service(handler, enrollment),
        ledger(store, SystemClock()),
        transaction_service(handler, ledger),
        config(store, config.box),
        config_service(handler, this->config, std::move(config.on_change)),
        audit_flusher([this] {
          while (!stop_flushing.WaitForNotificationWithTimeout(absl::Seconds(5))) {
            enrollment.FlushAudit();
          }
        }) {}
  ~Parts() {
    stop_flushing.Notify();
    audit_flusher.join();
  }

  core::CallLimits limits;
  core::TerminalRegistry terminals;
  core::MerchantRegistry merchants;
  core::TenantRegistry tenants;
  core::TokenRegistry tokens;
  core::AuditReader audit;
  core::Enrollment enrollment;
  core::TerminalWatch watch;
  Handler handler;
  TerminalServiceImpl terminal_service;
  MerchantServiceImpl merchant_service;
  TenantServiceImpl tenant_service;
  TokenServiceImpl token_service;
  AuditServiceImpl audit_service;
  EnrollmentServiceImpl enrollment_service;
  core::TransactionLedger ledger;
  TransactionServiceImpl transaction_service;
  core::ConfigRegistry config;
  ConfigServiceImpl config_service;
  // Writes the counted refusals of anonymous calls as their windows end.
  absl::Notification stop_flushing;
  std::thread audit_flusher;
};

ApiServer::ApiServer(core::Store& store, Counters& counters, core::ChangeFeed& feed,
                     core::EnrollmentSettings enrollment, ConfigSettings config,
                     core::CallLimitOptions limits)
    : parts_(std::make_unique<Parts>(store, counters, feed, std::move(enrollment),
                                     std::move(config), limits)) {}

ApiServer::~ApiServer() { Shutdown(); }

absl::Status ApiServer::Start(const ApiServerOptions& options) {
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    auto cert = ReadFile(options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(options.tls_key_file);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the same port and silently
  // share its traffic. A port already in use must be a start-up error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen, credentials, &port_);
  // Bulk imports of 10,000 terminals fit comfortably.
  builder.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewUnreadableRequestAnswer());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(&parts_->terminal_service);
  builder.RegisterService(&parts_->merchant_service);
  builder.RegisterService(&parts_->tenant_service);
  builder.RegisterService(&parts_->token_service);
  builder.RegisterService(&parts_->audit_service);
  builder.RegisterService(&parts_->enrollment_service);
  builder.RegisterService(&parts_->transaction_service);
  builder.RegisterService(&parts_->config_service);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  SetServing(true);
  return absl::OkStatus();
}

void ApiServer::SetServing(bool serving) {
  if (!server_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const char* name : kServiceNames) health->SetServingStatus(name, serving);
}

void ApiServer::FlushAudit() { parts_->enrollment.FlushAudit(/*everything=*/true); }

void ApiServer::Shutdown() {
  if (!server_) return;
  parts_->watch.Stop();  // ends every open WatchTerminals stream (OK)
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
  server_.reset();
}

}  // namespace posfleet::api

#include "server/api/api_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/periodic.h"
#include "server/api/services.h"
#include "server/api/unreadable_requests.h"

namespace posfleet::api {
namespace {

constexpr const char* kApiServiceNames[] = {
    "posfleet.v1.TerminalService", "posfleet.v1.MerchantService", "posfleet.v1.TenantService",
    "posfleet.v1.TokenService",    "posfleet.v1.AuditService",    "posfleet.v1.TransactionService",
    "posfleet.v1.ConfigService"};
constexpr const char* kDeviceServiceNames[] = {"posfleet.v1.EnrollmentService"};

// A terminal makes one call at a time; a few more streams per connection leave room for a retry.
constexpr int kDeviceStreamsPerConnection = 4;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

struct ApiServer::Parts {
  Parts(Env& env, core::Store& store, Counters& counters, core::ChangeFeed& feed,
        core::EnrollmentSettings settings, ConfigSettings config,
        core::CallLimitOptions limit_options)
      : env(env),
        limits(limit_options, env),
        terminals(store, store, store, store, store),
        merchants(store, store),
        tenants(store, store),
        tokens(store, store),
        audit(store),
        enrollment(store, store, std::move(settings), env),
        watch(terminals, store, feed, env),
        handler(tokens, store, counters, limits),
        terminal_service(handler, terminals, enrollment, watch),
        merchant_service(handler, merchants),
        tenant_service(handler, tenants),
        token_service(handler, tokens),
        audit_service(handler, audit),
        enrollment_service(handler, enrollment, env),
        ledger(store, env),
        transaction_service(handler, ledger),
        config(store, store, store, store, config.box),
        config_service(handler, this->config, std::move(config.on_change)),
        audit_flusher(env, absl::Seconds(5), Periodic::First::kAfterInterval,
                      [this] { enrollment.FlushAudit(); }) {
    audit_flusher.Start();
  }

  Env& env;
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
  // Writes the counted refusals of anonymous calls as their windows end. Declared last, so it
  // stops before the parts it uses are destroyed.
  Periodic audit_flusher;
};

ApiServer::ApiServer(Env& env, core::Store& store, Counters& counters, core::ChangeFeed& feed,
                     core::EnrollmentSettings enrollment, ConfigSettings config,
                     core::CallLimitOptions limits)
    : parts_(std::make_unique<Parts>(env, store, counters, feed, std::move(enrollment),
                                     std::move(config), limits)) {}

ApiServer::~ApiServer() { Shutdown(); }

namespace {

// What both listeners share: TLS or plaintext, no shared ports, a memory quota and a largest
// message. The caller adds its services and any channel arguments of its own.
void Configure(grpc::ServerBuilder& builder, const std::string& address,
               const std::shared_ptr<grpc::ServerCredentials>& credentials, int* port,
               const char* quota_name, int64_t memory_bytes, int max_message_bytes) {
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the same port and silently
  // share its traffic. A port already in use must be a start-up error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, credentials, port);
  grpc::ResourceQuota quota(quota_name);
  quota.Resize(static_cast<size_t>(memory_bytes));
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewUnreadableRequestAnswer());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

void SetHealth(grpc::Server* server, absl::Span<const char* const> names, bool serving) {
  if (server == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const char* name : names) health->SetServingStatus(name, serving);
}

}  // namespace

absl::Status ApiServer::Start(const ApiServerOptions& options) {
  if (options.api_memory_bytes <= 0 || options.device_memory_bytes <= 0) {
    return absl::InvalidArgumentError("the listeners' memory quotas must be positive");
  }
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

  grpc::ServerBuilder device;
  Configure(device, options.device_listen, credentials, &device_port_, "device",
            options.device_memory_bytes, kDeviceMaxMessageBytes);
  device.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kDeviceStreamsPerConnection);
  device.RegisterService(&parts_->enrollment_service);
  device_server_ = device.BuildAndStart();
  if (!device_server_ || device_port_ == 0) {
    device_server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.device_listen));
  }

  grpc::ServerBuilder api;
  Configure(api, options.listen, credentials, &port_, "api", options.api_memory_bytes,
            kApiMaxMessageBytes);
  api.RegisterService(&parts_->terminal_service);
  api.RegisterService(&parts_->merchant_service);
  api.RegisterService(&parts_->tenant_service);
  api.RegisterService(&parts_->token_service);
  api.RegisterService(&parts_->audit_service);
  api.RegisterService(&parts_->transaction_service);
  api.RegisterService(&parts_->config_service);
  server_ = api.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  SetServing(true);
  return absl::OkStatus();
}

void ApiServer::SetServing(bool serving) {
  SetHealth(server_.get(), kApiServiceNames, serving);
  SetHealth(device_server_.get(), kDeviceServiceNames, serving);
}

void ApiServer::FlushAudit() { parts_->enrollment.FlushAudit(/*everything=*/true); }

void ApiServer::Shutdown() {
  if (!server_ && !device_server_) return;
  parts_->watch.Stop();  // ends every open WatchTerminals stream (OK)
  const auto deadline = NetworkDeadline(absl::Seconds(5));
  for (std::unique_ptr<grpc::Server>* server : {&server_, &device_server_}) {
    if (!*server) continue;
    (*server)->Shutdown(deadline);
    (*server)->Wait();
    server->reset();
  }
}

}  // namespace posfleet::api

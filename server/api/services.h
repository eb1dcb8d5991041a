#pragma once

// gRPC adapters: translate requests to core calls and results back. No logic of their own.

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "common/env.h"
#include "posfleet/v1/audit.grpc.pb.h"
#include "posfleet/v1/config.grpc.pb.h"
#include "posfleet/v1/enrollment.grpc.pb.h"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/tenant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "posfleet/v1/token.grpc.pb.h"
#include "posfleet/v1/transaction.grpc.pb.h"
#include "server/api/handler.h"
#include "server/core/audit_reader.h"
#include "server/core/config_registry.h"
#include "server/core/enrollment.h"
#include "server/core/merchant_registry.h"
#include "server/core/tenant_registry.h"
#include "server/core/terminal_registry.h"
#include "server/core/terminal_watch.h"
#include "server/core/token_registry.h"
#include "server/core/transaction_ledger.h"

namespace posfleet::api {

using google::protobuf::Empty;
using grpc::ServerContext;
using grpc::Status;

// WatchTerminals runs on gRPC's callback API: an open stream holds no thread (core::TerminalWatch
// serves them all from one).
class TerminalServiceImpl final
    : public v1::TerminalService::WithCallbackMethod_WatchTerminals<v1::TerminalService::Service> {
 public:
  TerminalServiceImpl(Handler& handler, core::TerminalRegistry& registry,
                      core::Enrollment& enrollment, core::TerminalWatch& watch)
      : handler_(handler), registry_(registry), enrollment_(enrollment), watch_(watch) {}

  Status CreateTerminal(ServerContext* ctx, const v1::CreateTerminalRequest* req,
                        v1::Terminal* resp) override;
  Status BatchCreateTerminals(ServerContext* ctx, const v1::BatchCreateTerminalsRequest* req,
                              v1::BatchCreateTerminalsResponse* resp) override;
  Status GetTerminal(ServerContext* ctx, const v1::GetTerminalRequest* req,
                     v1::Terminal* resp) override;
  Status ListTerminals(ServerContext* ctx, const v1::ListTerminalsRequest* req,
                       v1::ListTerminalsResponse* resp) override;
  Status UpdateTerminal(ServerContext* ctx, const v1::UpdateTerminalRequest* req,
                        v1::Terminal* resp) override;
  Status SuspendTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                         v1::Terminal* resp) override;
  Status ReactivateTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                            v1::Terminal* resp) override;
  Status RetireTerminal(ServerContext* ctx, const v1::LifecycleRequest* req,
                        v1::Terminal* resp) override;
  Status IssueActivationCode(ServerContext* ctx, const v1::IssueActivationCodeRequest* req,
                             v1::ActivationCode* resp) override;
  Status SummarizeFleet(ServerContext* ctx, const v1::SummarizeFleetRequest* req,
                        v1::FleetSummary* resp) override;
  grpc::ServerWriteReactor<v1::TerminalEvent>* WatchTerminals(
      grpc::CallbackServerContext* ctx, const v1::WatchTerminalsRequest* req) override;
  Status ListHealthHistory(ServerContext* ctx, const v1::ListHealthHistoryRequest* req,
                           v1::ListHealthHistoryResponse* resp) override;

 private:
  Status Lifecycle(ServerContext* ctx, absl::string_view method, const v1::LifecycleRequest* req,
                   core::LifecycleAction action, v1::Terminal* resp);

  Handler& handler_;
  core::TerminalRegistry& registry_;
  core::Enrollment& enrollment_;
  core::TerminalWatch& watch_;
};

class EnrollmentServiceImpl final : public v1::EnrollmentService::Service {
 public:
  EnrollmentServiceImpl(Handler& handler, core::Enrollment& enrollment, Env& env)
      : handler_(handler), enrollment_(enrollment), env_(env) {}

  Status Enroll(ServerContext* ctx, const v1::EnrollRequest* req,
                v1::EnrollResponse* resp) override;
  Status RenewCertificate(ServerContext* ctx, const v1::RenewCertificateRequest* req,
                          v1::EnrollResponse* resp) override;

  // How long every refused enrollment takes, at least (longer than any path through the check).
  static constexpr absl::Duration kRefusalTime = absl::Milliseconds(150);

 private:
  Handler& handler_;
  core::Enrollment& enrollment_;
  Env& env_;
};

class MerchantServiceImpl final : public v1::MerchantService::Service {
 public:
  MerchantServiceImpl(Handler& handler, core::MerchantRegistry& registry)
      : handler_(handler), registry_(registry) {}

  Status CreateMerchant(ServerContext* ctx, const v1::CreateMerchantRequest* req,
                        v1::Merchant* resp) override;
  Status GetMerchant(ServerContext* ctx, const v1::GetMerchantRequest* req,
                     v1::Merchant* resp) override;
  Status ListMerchants(ServerContext* ctx, const v1::ListMerchantsRequest* req,
                       v1::ListMerchantsResponse* resp) override;
  Status UpdateMerchant(ServerContext* ctx, const v1::UpdateMerchantRequest* req,
                        v1::Merchant* resp) override;
  Status DeleteMerchant(ServerContext* ctx, const v1::DeleteMerchantRequest* req,
                        Empty* resp) override;

 private:
  Handler& handler_;
  core::MerchantRegistry& registry_;
};

class TenantServiceImpl final : public v1::TenantService::Service {
 public:
  TenantServiceImpl(Handler& handler, core::TenantRegistry& registry)
      : handler_(handler), registry_(registry) {}

  Status CreateTenant(ServerContext* ctx, const v1::CreateTenantRequest* req,
                      v1::Tenant* resp) override;
  Status GetTenant(ServerContext* ctx, const v1::GetTenantRequest* req, v1::Tenant* resp) override;
  Status ListTenants(ServerContext* ctx, const v1::ListTenantsRequest* req,
                     v1::ListTenantsResponse* resp) override;
  Status UpdateTenant(ServerContext* ctx, const v1::UpdateTenantRequest* req,
                      v1::Tenant* resp) override;
  Status DeleteTenant(ServerContext* ctx, const v1::DeleteTenantRequest* req, Empty* resp) override;

 private:
  Handler& handler_;
  core::TenantRegistry& registry_;
};

class TokenServiceImpl final : public v1::TokenService::Service {
 public:
  TokenServiceImpl(Handler& handler, core::TokenRegistry& registry)
      : handler_(handler), registry_(registry) {}

  Status CreateToken(ServerContext* ctx, const v1::CreateTokenRequest* req,
                     v1::CreateTokenResponse* resp) override;
  Status ListTokens(ServerContext* ctx, const v1::ListTokensRequest* req,
                    v1::ListTokensResponse* resp) override;
  Status RevokeToken(ServerContext* ctx, const v1::RevokeTokenRequest* req,
                     v1::Token* resp) override;
  Status WhoAmI(ServerContext* ctx, const v1::WhoAmIRequest* req, v1::Token* resp) override;

 private:
  Handler& handler_;
  core::TokenRegistry& registry_;
};

class TransactionServiceImpl final : public v1::TransactionService::Service {
 public:
  TransactionServiceImpl(Handler& handler, core::TransactionLedger& ledger)
      : handler_(handler), ledger_(ledger) {}

  Status ListTransactions(ServerContext* ctx, const v1::ListTransactionsRequest* req,
                          v1::ListTransactionsResponse* resp) override;
  Status DailyReport(ServerContext* ctx, const v1::DailyReportRequest* req,
                     v1::DailyReportResponse* resp) override;
  Status ListSilentTerminals(ServerContext* ctx, const v1::ListSilentTerminalsRequest* req,
                             v1::ListSilentTerminalsResponse* resp) override;

 private:
  Handler& handler_;
  core::TransactionLedger& ledger_;
};

class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  AuditServiceImpl(Handler& handler, core::AuditReader& reader)
      : handler_(handler), reader_(reader) {}

  Status ListAuditEntries(ServerContext* ctx, const v1::ListAuditEntriesRequest* req,
                          v1::ListAuditEntriesResponse* resp) override;

 private:
  Handler& handler_;
  core::AuditReader& reader_;
};

class ConfigServiceImpl final : public v1::ConfigService::Service {
 public:
  // `on_change` runs after every committed change (it wakes the publisher of down/config).
  ConfigServiceImpl(Handler& handler, core::ConfigRegistry& registry,
                    std::function<void()> on_change)
      : handler_(handler), registry_(registry), on_change_(std::move(on_change)) {}

  Status GetSchema(ServerContext* ctx, const v1::GetSchemaRequest* req,
                   v1::GetSchemaResponse* resp) override;
  Status UpdateSchema(ServerContext* ctx, const v1::UpdateSchemaRequest* req,
                      v1::ConfigChangeResult* resp) override;
  Status SetGroup(ServerContext* ctx, const v1::SetGroupRequest* req,
                  v1::ConfigChangeResult* resp) override;
  Status DeleteGroup(ServerContext* ctx, const v1::DeleteGroupRequest* req,
                     v1::ConfigChangeResult* resp) override;
  Status SetValues(ServerContext* ctx, const v1::SetValuesRequest* req,
                   v1::ConfigChangeResult* resp) override;
  Status GetLayers(ServerContext* ctx, const v1::GetLayersRequest* req,
                   v1::GetLayersResponse* resp) override;
  Status ListRevisions(ServerContext* ctx, const v1::ListRevisionsRequest* req,
                       v1::ListRevisionsResponse* resp) override;
  Status DiffRevisions(ServerContext* ctx, const v1::DiffRevisionsRequest* req,
                       v1::DiffRevisionsResponse* resp) override;
  Status RestoreRevision(ServerContext* ctx, const v1::RestoreRevisionRequest* req,
                         v1::ConfigChangeResult* resp) override;
  Status GetEffectiveConfig(ServerContext* ctx, const v1::GetEffectiveConfigRequest* req,
                            v1::GetEffectiveConfigResponse* resp) override;
  Status Explain(ServerContext* ctx, const v1::ExplainRequest* req,
                 v1::ExplainResponse* resp) override;
  Status ListDrift(ServerContext* ctx, const v1::ListDriftRequest* req,
                   v1::ListDriftResponse* resp) override;

 private:
  Handler& handler_;
  core::ConfigRegistry& registry_;
  std::function<void()> on_change_;
};

}  // namespace posfleet::api

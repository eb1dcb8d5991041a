#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "common/metrics.h"
#include "posfleet/v1/audit.grpc.pb.h"
#include "posfleet/v1/config.grpc.pb.h"
#include "posfleet/v1/enrollment.grpc.pb.h"
#include "posfleet/v1/merchant.grpc.pb.h"
#include "posfleet/v1/tenant.grpc.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "posfleet/v1/token.grpc.pb.h"
#include "server/api/api_server.h"
#include "server/store/pg_change_feed.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"

namespace posfleet::testing {

// A server certificate for 127.0.0.1 and localhost signed by `ca`, as `posfleet-server
// broker-certs` writes api.pem (the harness's listener uses one; relay tests make their own).
pki::CertAndKey ServerCertificate(const pki::CertAndKey& ca);

// A real API server in-process: fresh database on the test PostgreSQL, migrations applied, the
// gRPC server on a free port over TLS (a certificate for 127.0.0.1 from the fleet CA, as
// `posfleet-server broker-certs` writes) with a real channel to it, and a global admin token.
class ApiHarness {
 public:
  // With `ca`, the server signs terminal certificates with that fleet CA (e.g. a TestBroker's);
  // enrolled terminals are sent to `broker_address`.
  // The enrollment throttle lets tests fail as often as they like unless given `throttle`; the
  // call limits are off unless given `limits`.
  explicit ApiHarness(const pki::CertAndKey* ca = nullptr,
                      const std::string& broker_address = "ssl://broker:8883",
                      std::optional<core::EnrollmentThrottleOptions> throttle = std::nullopt,
                      std::optional<core::CallLimitOptions> limits = std::nullopt);
  ~ApiHarness();

  // A client context carrying `token` ("" sends none).
  static std::unique_ptr<grpc::ClientContext> As(const std::string& token);

  // Helpers that must succeed (they fail the test otherwise).
  v1::Tenant CreateTenant(const std::string& name);
  v1::Merchant CreateMerchant(const std::string& tenant_id, const std::string& mid);
  std::string CreateToken(v1::Role role, const std::string& tenant_id);  // returns the secret
  v1::Terminal CreateTerminal(const std::string& token, const std::string& merchant_id,
                              const std::string& serial,
                              std::map<std::string, std::string> labels = {});
  // Enrolls the terminal `id` (serial `serial`) through the API, as its agent would: an
  // activation code, then Enroll with a new key. The terminal is active afterwards (the link
  // accepts only active terminals). Returns the certificate and key PEM.
  struct Enrolled {
    std::string certificate_pem;
    std::string key_pem;
  };
  Enrolled Enroll(const std::string& id, const std::string& serial);
  // Marks terminals active straight in the table, standing in for enrollment where a test writes
  // link reports through the store (the link accepts active terminals only).
  void MarkActive(const std::vector<std::string>& ids);
  // Number of audit rows with this target, method and result, read straight from the table.
  int CountAudit(const std::string& target_id, const std::string& method,
                 const std::string& result);

  std::string db_url;   // as the runtime role (the schema's owner ran the migrations)
  std::string tls_dir;  // temp folder of ca.pem (the fleet CA, which the API's certificate
                        // chains to: an agent's --server-ca), api.pem and api.key
  std::string ca_file;  // tls_dir + "/ca.pem"
  std::string admin;    // global admin secret
  // The key activation codes are stored under (EnrollmentSettings::code_key).
  static constexpr char kCodeKey[] = "api harness activation code key.";
  core::EnrollmentSettings
      enrollment;  // fleet CA made for this harness, broker "ssl://broker:8883"
  Counters counters;
  std::optional<SecretBox> params_box;
  std::unique_ptr<store::PgPool> pool;
  std::unique_ptr<store::PgStore> store;
  std::unique_ptr<store::PgChangeFeed> feed;
  std::unique_ptr<api::ApiServer> server;
  std::shared_ptr<grpc::Channel> channel;         // the operators' listener
  std::shared_ptr<grpc::Channel> device_channel;  // the terminals' (enrollment) listener
  std::unique_ptr<v1::EnrollmentService::Stub> enroll;
  std::unique_ptr<v1::TerminalService::Stub> terminals;
  std::unique_ptr<v1::MerchantService::Stub> merchants;
  std::unique_ptr<v1::TenantService::Stub> tenants;
  std::unique_ptr<v1::TokenService::Stub> tokens;
  std::unique_ptr<v1::AuditService::Stub> audit;
  std::unique_ptr<v1::ConfigService::Stub> config;
};

}  // namespace posfleet::testing

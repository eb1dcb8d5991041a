#include "tests/support/api_harness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <pqxx/pqxx>

#include "posfleet/v1/enrollment.grpc.pb.h"
#include "server/core/token_registry.h"
#include "server/store/migrator.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet::testing {

pki::CertAndKey ServerCertificate(const pki::CertAndKey& ca) {
  const std::string key = *pki::NewPrivateKey();
  auto cert = pki::SignCsr(ca, *pki::MakeCsr(key, "posfleet-api"), "posfleet-api", absl::Hours(24),
                           pki::Usage::kServer, {"127.0.0.1", "localhost"});
  EXPECT_TRUE(cert.ok()) << cert.status();
  return {cert.ok() ? cert->cert_pem : "", key};
}

ApiHarness::ApiHarness(const pki::CertAndKey* fleet_ca, const std::string& broker_address,
                       std::optional<core::EnrollmentThrottleOptions> throttle,
                       std::optional<core::CallLimitOptions> limits) {
  // Migrations as the schema's owner; everything else as the runtime role, as the server runs.
  const std::string owner_url = TestPostgres::Get().CreateDatabase();
  auto migrated = store::MigrateUp(owner_url, store::EmbeddedMigrations());
  db_url = RuntimeUrl(owner_url);
  EXPECT_TRUE(migrated.ok()) << migrated.status();
  pool = std::make_unique<store::PgPool>(db_url, 4);
  store = std::make_unique<store::PgStore>(*pool);
  core::TokenRegistry registry(*store, *store);
  auto secret = registry.Bootstrap("");
  EXPECT_TRUE(secret.ok()) << secret.status();
  admin = *secret;
  auto ca = fleet_ca ? absl::StatusOr<pki::CertAndKey>(*fleet_ca)
                     : pki::CreateCa("test fleet CA", absl::Hours(24));
  EXPECT_TRUE(ca.ok()) << ca.status();
  auto stored = store->LoadOrStoreCa(*ca);
  EXPECT_TRUE(stored.ok()) << stored.status();
  enrollment = core::EnrollmentSettings{*stored, broker_address, absl::Hours(24 * 90)};
  enrollment.code_key = kCodeKey;
  if (throttle) {
    enrollment.throttle = *throttle;
  } else {
    enrollment.throttle.free_failures = 1 << 30;
    enrollment.throttle.concurrent_per_source = 1 << 30;
  }
  feed = std::make_unique<store::PgChangeFeed>(db_url, RealEnv());
  EXPECT_TRUE(WaitFor([&] { return feed->Listening(); })) << "change feed never listened";
  // A fixed test key for secret parameters.
  params_box = *SecretBox::FromKey(std::string(32, 'k'));
  api::ConfigSettings settings;
  settings.box = &*params_box;
  server =
      std::make_unique<api::ApiServer>(RealEnv(), *store, counters, *feed, enrollment, settings,
                                       limits.value_or(core::CallLimitOptions::Off()));
  // The listener's certificate, from the fleet CA.
  char tmpl[] = "/tmp/posfleet-api-tls-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl), nullptr);
  tls_dir = tmpl;
  ca_file = tls_dir + "/ca.pem";
  const pki::CertAndKey listener = ServerCertificate(*ca);
  std::ofstream(ca_file) << ca->cert_pem;
  std::ofstream(tls_dir + "/api.pem") << listener.cert_pem;
  std::ofstream(tls_dir + "/api.key") << listener.key_pem;
  api::ApiServerOptions options;
  options.listen = "127.0.0.1:0";
  options.device_listen = "127.0.0.1:0";
  options.tls_cert_file = tls_dir + "/api.pem";
  options.tls_key_file = tls_dir + "/api.key";
  absl::Status started = server->Start(options);
  EXPECT_TRUE(started.ok()) << started;
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca->cert_pem;
  channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()), grpc::SslCredentials(ssl));
  device_channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->device_port()),
                                       grpc::SslCredentials(ssl));
  enroll = v1::EnrollmentService::NewStub(device_channel);
  terminals = v1::TerminalService::NewStub(channel);
  merchants = v1::MerchantService::NewStub(channel);
  tenants = v1::TenantService::NewStub(channel);
  tokens = v1::TokenService::NewStub(channel);
  audit = v1::AuditService::NewStub(channel);
  config = v1::ConfigService::NewStub(channel);
}

ApiHarness::~ApiHarness() {
  server->Shutdown();
  if (!tls_dir.empty()) Run("rm -rf " + tls_dir);
}

std::unique_ptr<grpc::ClientContext> ApiHarness::As(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

v1::Tenant ApiHarness::CreateTenant(const std::string& name) {
  v1::CreateTenantRequest req;
  req.set_name(name);
  v1::Tenant t;
  grpc::Status s = tenants->CreateTenant(As(admin).get(), req, &t);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return t;
}

v1::Merchant ApiHarness::CreateMerchant(const std::string& tenant_id, const std::string& mid) {
  v1::CreateMerchantRequest req;
  req.set_tenant_id(tenant_id);
  req.set_name("Merchant " + mid);
  req.set_mid(mid);
  v1::Merchant m;
  grpc::Status s = merchants->CreateMerchant(As(admin).get(), req, &m);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return m;
}

std::string ApiHarness::CreateToken(v1::Role role, const std::string& tenant_id) {
  v1::CreateTokenRequest req;
  req.set_name("test token");
  req.set_role(role);
  req.set_tenant_id(tenant_id);
  v1::CreateTokenResponse resp;
  grpc::Status s = tokens->CreateToken(As(admin).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.secret();
}

v1::Terminal ApiHarness::CreateTerminal(const std::string& token, const std::string& merchant_id,
                                        const std::string& serial,
                                        std::map<std::string, std::string> labels) {
  v1::CreateTerminalRequest req;
  v1::TerminalSpec* spec = req.mutable_terminal();
  spec->set_merchant_id(merchant_id);
  spec->set_vendor("PAX");
  spec->set_model("A920");
  spec->set_serial(serial);
  for (const auto& [k, v] : labels) (*spec->mutable_labels())[k] = v;
  v1::Terminal t;
  grpc::Status s = terminals->CreateTerminal(As(token).get(), req, &t);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return t;
}

ApiHarness::Enrolled ApiHarness::Enroll(const std::string& id, const std::string& serial) {
  v1::IssueActivationCodeRequest ir;
  ir.set_id(id);
  v1::ActivationCode code;
  grpc::Status s = terminals->IssueActivationCode(As(admin).get(), ir, &code);
  EXPECT_TRUE(s.ok()) << s.error_message();
  Enrolled out;
  out.key_pem = *pki::NewPrivateKey();
  v1::EnrollRequest er;
  er.set_vendor("PAX");
  er.set_serial(serial);
  er.set_activation_code(code.code());
  er.set_csr_pem(*pki::MakeCsr(out.key_pem, serial));
  v1::EnrollResponse enrolled;
  grpc::ClientContext ctx;
  s = enroll->Enroll(&ctx, er, &enrolled);
  EXPECT_TRUE(s.ok()) << s.error_message();
  out.certificate_pem = enrolled.certificate_pem();
  return out;
}

void ApiHarness::MarkActive(const std::vector<std::string>& ids) {
  pqxx::connection conn(db_url);
  pqxx::nontransaction txn(conn);
  for (const std::string& id : ids) {
    txn.exec_params("UPDATE terminals SET state = 'active', enroll_time = now() WHERE id = $1", id);
  }
}

int ApiHarness::CountAudit(const std::string& target_id, const std::string& method,
                           const std::string& result) {
  pqxx::connection conn(db_url);
  pqxx::nontransaction txn(conn);
  return txn
      .exec_params1(
          "SELECT count(*) FROM audit_log WHERE target_id = $1 AND method = $2 "
          "AND result = $3",
          target_id, method, result)[0]
      .as<int>();
}

}  // namespace posfleet::testing

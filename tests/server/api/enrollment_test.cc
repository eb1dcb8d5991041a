// Activation codes and enrollment through the real API: the happy path and every rejection.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/pki.h"
#include "posfleet/v1/audit.grpc.pb.h"
#include "posfleet/v1/enrollment.grpc.pb.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenant_ = h_.CreateTenant("acme");
    merchant_ = h_.CreateMerchant(tenant_.id(), "M1");
    tech_ = h_.CreateToken(v1::ROLE_TECHNICIAN, tenant_.id());
    terminal_ = h_.CreateTerminal(h_.admin, merchant_.id(), "SN1");
    enroll_ = v1::EnrollmentService::NewStub(h_.device_channel);
    key_ = *pki::NewPrivateKey();
  }

  grpc::Status IssueCode(const std::string& terminal_id, v1::ActivationCode* code,
                         const std::string& token = "") {
    v1::IssueActivationCodeRequest r;
    r.set_id(terminal_id);
    return h_.terminals->IssueActivationCode(ApiHarness::As(token.empty() ? tech_ : token).get(), r,
                                             code);
  }
  std::string Code() {
    v1::ActivationCode code;
    grpc::Status s = IssueCode(terminal_.id(), &code);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return code.code();
  }
  grpc::Status Enroll(const std::string& code, v1::EnrollResponse* out,
                      const std::string& serial = "SN1", const std::string& csr_cn = "SN1") {
    v1::EnrollRequest r;
    r.set_vendor("PAX");
    r.set_serial(serial);
    r.set_activation_code(code);
    r.set_csr_pem(*pki::MakeCsr(key_, csr_cn));
    grpc::ClientContext ctx;  // no token: the code is the credential
    return enroll_->Enroll(&ctx, r, out);
  }
  // Renewal as the agent does it: a CSR for `new_key`, signed by `proof_key`.
  grpc::Status Renew(const std::string& cert_pem, const std::string& new_key,
                     const std::string& proof_key, v1::EnrollResponse* out,
                     const std::string& csr_cn = "SN1") {
    v1::RenewCertificateRequest r;
    r.set_certificate_pem(cert_pem);
    r.set_csr_pem(*pki::MakeCsr(new_key, csr_cn));
    r.set_proof(*pki::SignData(proof_key, r.csr_pem()));
    grpc::ClientContext ctx;  // no token: the certificate is the credential
    return enroll_->RenewCertificate(&ctx, r, out);
  }
  v1::Terminal Get() {
    v1::GetTerminalRequest r;
    r.set_id(terminal_.id());
    v1::Terminal t;
    EXPECT_TRUE(h_.terminals->GetTerminal(ApiHarness::As(h_.admin).get(), r, &t).ok());
    return t;
  }
  int Count(const std::string& sql) {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<int>();
  }

  ApiHarness h_;
  v1::Tenant tenant_;
  v1::Merchant merchant_;
  std::string tech_;
  v1::Terminal terminal_;
  std::unique_ptr<v1::EnrollmentService::Stub> enroll_;
  std::string key_;
};

TEST_F(EnrollmentTest, TechnicianCodeEnrollsTheTerminal) {
  v1::ActivationCode code;
  ASSERT_TRUE(IssueCode(terminal_.id(), &code).ok());
  ASSERT_EQ(code.code().size(), 11u);
  EXPECT_EQ(code.code()[5], '-');
  EXPECT_NEAR(code.expire_time().seconds() - absl::ToUnixSeconds(absl::Now()), 86400, 60);

  // Typed sloppily: lower case, no dash.
  std::string typed = code.code().substr(0, 5) + code.code().substr(6);
  for (char& c : typed) c = static_cast<char>(std::tolower(c));
  v1::EnrollResponse resp;
  grpc::Status s = Enroll(typed, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.terminal_id(), terminal_.id());
  EXPECT_EQ(resp.broker_address(), "ssl://broker:8883");
  auto info = pki::InspectCert(resp.certificate_pem(), resp.ca_pem());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, terminal_.id());
  EXPECT_NEAR(absl::ToDoubleHours(info->not_after - absl::Now()), 24 * 90, 0.1);
  EXPECT_EQ(Get().state(), v1::TERMINAL_STATE_ACTIVE);

  // Audited, without the code.
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "TerminalService.IssueActivationCode", "OK"), 1);
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.Enroll", "OK"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log a WHERE a::text ILIKE '%" +
                  code.code().substr(0, 5) + "%'"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM activation_codes WHERE code_hmac LIKE '%" +
                  code.code().substr(0, 5) + "%'"),
            0);
  // Stored under the server's key: a copy of the database alone cannot test guesses.
  const std::string normalized = core::NormalizeActivationCode(code.code());
  EXPECT_EQ(Count("SELECT count(*) FROM activation_codes WHERE code_hmac = '" +
                  Sha256Hex(normalized) + "'"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM activation_codes WHERE code_hmac = '" +
                  HmacSha256Hex(ApiHarness::kCodeKey, normalized) + "'"),
            1);

  // Single use: another device (another key) cannot use the code again.
  key_ = *pki::NewPrivateKey();
  v1::EnrollResponse again;
  grpc::Status reused = Enroll(code.code(), &again);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The caller is told what every refusal says; the audit log keeps the reason.
  EXPECT_EQ(reused.error_message(), core::kEnrollmentRefused);
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.Enroll", "UNAUTHENTICATED"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'EnrollmentService.Enroll' "
                  "AND summary LIKE '%already used%'"),
            1);
}

TEST_F(EnrollmentTest, ARetryAfterALostResponseGetsTheSameCertificate) {
  const std::string code = Code();
  v1::EnrollResponse first, retry, other;
  ASSERT_TRUE(Enroll(code, &first).ok());
  // The response never reached the agent; it retries with the same code and the same key.
  grpc::Status s = Enroll(code, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.certificate_pem(), first.certificate_pem());
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'EnrollmentService.Enroll' "
                  "AND result = 'OK' AND summary LIKE 're-sent certificate%'"),
            1);
  // Another device (another key) with the same code is still refused.
  key_ = *pki::NewPrivateKey();
  EXPECT_EQ(Enroll(code, &other).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(EnrollmentTest, WrongMalformedAndExpiredCodes) {
  v1::EnrollResponse resp;
  EXPECT_EQ(Enroll("ZZZZZ-ZZZZZ", &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Enroll("not a code!", &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Enroll("", &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const std::string code = Code();
  {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction(conn).exec(
        "UPDATE activation_codes SET expire_time = now() - interval '1 second'");
  }
  grpc::Status expired = Enroll(code, &resp);
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(expired.error_message(), core::kEnrollmentRefused);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE summary LIKE '%expired%'"), 1);
  EXPECT_EQ(Get().state(), v1::TERMINAL_STATE_PROVISIONED);
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 0);
}

TEST_F(EnrollmentTest, RefusalsChangeNothingAndLeaveTheCodeUsable) {
  const std::string code = Code();
  v1::EnrollResponse resp;
  grpc::Status other = Enroll(code, &resp, /*serial=*/"SN2", /*csr_cn=*/"SN2");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNAUTHENTICATED) << other.error_message();
  EXPECT_EQ(other.error_message(), core::kEnrollmentRefused);
  grpc::Status cn = Enroll(code, &resp, "SN1", /*csr_cn=*/"someone-else");
  EXPECT_EQ(cn.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(cn.error_message().find("csr_pem"), std::string::npos);
  v1::EnrollRequest garbage;
  garbage.set_vendor("PAX");
  garbage.set_serial("SN1");
  garbage.set_activation_code(code);
  garbage.set_csr_pem(
      "-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n");
  grpc::ClientContext ctx;
  EXPECT_EQ(enroll_->Enroll(&ctx, garbage, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get().state(), v1::TERMINAL_STATE_PROVISIONED);
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 0);
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.Enroll", "PERMISSION_DENIED"), 1);
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.Enroll", "INVALID_ARGUMENT"), 2);
  // The code was never the problem, so it still works.
  EXPECT_TRUE(Enroll(code, &resp).ok());
}

// A live code used to answer PERMISSION_DENIED ("another terminal") where a wrong one answered
// UNAUTHENTICATED, even with a garbage CSR, so a code alone led to its serial in 243 guesses. Now
// every refusal before vendor, serial and code all match is the same answer, word for word.
TEST_F(EnrollmentTest, EveryRefusalBeforeVendorSerialAndCodeMatchIsTheSameAnswer) {
  h_.CreateTerminal(h_.admin, merchant_.id(), "SN2");
  const std::string live = Code();
  const std::string garbage_csr =
      "-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n";
  std::vector<std::pair<std::string, grpc::Status>> answers;
  auto attempt = [&](const std::string& what, const std::string& vendor, const std::string& serial,
                     const std::string& code, const std::string& csr) {
    v1::EnrollRequest r;
    r.set_vendor(vendor);
    r.set_serial(serial);
    r.set_activation_code(code);
    r.set_csr_pem(csr);
    v1::EnrollResponse resp;
    grpc::ClientContext ctx;
    answers.emplace_back(what, enroll_->Enroll(&ctx, r, &resp));
  };
  const std::string csr = *pki::MakeCsr(key_, "SN1");
  attempt("unknown code", "PAX", "SN1", "ZZZZZ-ZZZZZ", csr);
  attempt("not a code", "PAX", "SN1", "not a code!", csr);
  attempt("live code, another real terminal's serial", "PAX", "SN2", live, csr);
  attempt("live code, unknown serial", "PAX", "SN404", live, csr);
  attempt("live code, another vendor", "Verifone", "SN1", live, csr);
  attempt("live code, wrong serial, garbage CSR", "PAX", "SN2", live, garbage_csr);
  attempt("unknown code, garbage CSR", "PAX", "SN1", "ZZZZZ-ZZZZY", garbage_csr);
  for (const auto& [what, status] : answers) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
    EXPECT_EQ(status.error_message(), core::kEnrollmentRefused) << what;
  }
  // The code was not the problem in those: it still enrolls its own terminal (4 of its 5
  // failures spent).
  v1::EnrollResponse ok;
  EXPECT_TRUE(Enroll(live, &ok).ok());
  // Used, and expired, say the same.
  attempt("used code, another key", "PAX", "SN1", live,
          *pki::MakeCsr(*pki::NewPrivateKey(), "SN1"));
  EXPECT_EQ(answers.back().second.error_message(), core::kEnrollmentRefused);
}

// Knowing a code is not enough to find its terminal by trying serials: after five attempts with
// another vendor or serial the code is locked, and then it fails for its own terminal too.
TEST_F(EnrollmentTest, ACodeLocksAfterFiveAttemptsWithAnotherSerial) {
  const std::string code = Code();
  v1::EnrollResponse resp;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Enroll(code, &resp, "GUESS" + std::to_string(i), "GUESS").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  const grpc::Status locked = Enroll(code, &resp);
  EXPECT_EQ(locked.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(locked.error_message(), core::kEnrollmentRefused);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE summary LIKE '%locked after 5%'"), 1);
  EXPECT_EQ(Get().state(), v1::TERMINAL_STATE_PROVISIONED);
  // A technician's new code works.
  EXPECT_TRUE(Enroll(Code(), &resp).ok());
}

// Each failed Enroll used to write an audit row (~360 bytes, no tenant), so anyone could grow the
// append-only log without bound. Refusals that name no terminal are counted: one row per source
// and window, with the count. One that names a terminal (its code, with another serial) keeps its
// row, under the terminal's tenant, where that tenant's admin sees it.
TEST_F(EnrollmentTest, UnattributedRefusalsAreCountedNotLoggedOneByOne) {
  const int before = Count("SELECT count(*) FROM audit_log");
  v1::EnrollResponse resp;
  for (int i = 0; i < 40; ++i) {  // each refusal takes 150 ms
    ASSERT_EQ(
        Enroll(absl::StrCat("ZZZZZ-ZZZ", std::string(1, "23456789ABCDEFGHJKMNPQRSTUVWXYZ"[i % 31])),
               &resp)
            .error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), before);
  h_.server->FlushAudit();
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), before + 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'EnrollmentService.Enroll' AND "
                  "result = 'UNAUTHENTICATED' AND summary LIKE '40 refused call(s) naming no "
                  "terminal from ipv4:127.0.0.1 %'"),
            1);

  // The tenant's own terminal: its admin sees the attempt with its code and another serial.
  const std::string code = Code();
  ASSERT_EQ(Enroll(code, &resp, "SN-GUESS", "SN-GUESS").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const std::string admin = h_.CreateToken(v1::ROLE_ADMIN, tenant_.id());
  auto audit = v1::AuditService::NewStub(h_.channel);
  v1::ListAuditEntriesRequest list;
  list.set_target_id(terminal_.id());
  v1::ListAuditEntriesResponse entries;
  ASSERT_TRUE(audit->ListAuditEntries(ApiHarness::As(admin).get(), list, &entries).ok());
  bool seen = false;
  for (const v1::AuditEntry& e : entries.entries()) {
    if (e.method() == "EnrollmentService.Enroll" && e.result() == "PERMISSION_DENIED") {
      seen = true;
      EXPECT_NE(e.summary().find("another terminal"), std::string::npos) << e.summary();
      EXPECT_EQ(e.tenant_id(), tenant_.id());
    }
  }
  EXPECT_TRUE(seen) << entries.DebugString();
}

// The throttle as production configures it, through the API: a client that keeps failing waits,
// and is told so with RESOURCE_EXHAUSTED and when to retry, without its code being looked at.
TEST(EnrollmentThrottleApiTest, AClientThatKeepsFailingIsToldToWait) {
  core::EnrollmentThrottleOptions throttle;
  throttle.base = absl::Minutes(1);  // longer than the test could take, however loaded
  ApiHarness h(nullptr, "ssl://broker:8883", throttle);
  auto enroll = v1::EnrollmentService::NewStub(h.device_channel);
  const std::string csr = *pki::MakeCsr(*pki::NewPrivateKey(), "SN1");
  std::vector<grpc::Status> answers;
  for (int i = 0; i < 6; ++i) {
    v1::EnrollRequest r;
    r.set_vendor("PAX");
    r.set_serial("SN" + std::to_string(i));
    r.set_activation_code("ZZZZZ-ZZZZZ");
    r.set_csr_pem(csr);
    v1::EnrollResponse resp;
    grpc::ClientContext ctx;
    answers.push_back(enroll->Enroll(&ctx, r, &resp));
  }
  // Three free failures, a fourth that starts the wait, then refusals before any lookup.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(answers[i].error_code(), grpc::StatusCode::UNAUTHENTICATED);
  for (int i = 4; i < 6; ++i) {
    EXPECT_EQ(answers[i].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << i;
    EXPECT_NE(answers[i].error_message().find("retry in"), std::string::npos);
  }
}

// A key the broker would refuse (P-384 here) is refused before the code is spent on it.
TEST_F(EnrollmentTest, AKeyOtherThanP256IsRefusedAndTheCodeStaysGood) {
  const std::string code = Code();
  ASSERT_EQ(std::system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
                        "-out /tmp/posfleet-p384.pem 2>/dev/null"),
            0);
  std::ifstream in("/tmp/posfleet-p384.pem");
  key_.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove("/tmp/posfleet-p384.pem");
  v1::EnrollResponse resp;
  const grpc::Status p384 = Enroll(code, &resp);
  EXPECT_EQ(p384.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << p384.error_message();
  EXPECT_NE(p384.error_message().find("P-256"), std::string::npos) << p384.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 0);
  key_ = *pki::NewPrivateKey();
  EXPECT_TRUE(Enroll(code, &resp).ok());
}

TEST_F(EnrollmentTest, SuspendedAndRetiredTerminalsCannotEnroll) {
  const std::string code = Code();
  v1::LifecycleRequest lr;
  lr.set_id(terminal_.id());
  v1::Terminal t;
  ASSERT_TRUE(h_.terminals->SuspendTerminal(ApiHarness::As(h_.admin).get(), lr, &t).ok());
  v1::EnrollResponse resp;
  EXPECT_EQ(Enroll(code, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ActivationCode fresh;
  EXPECT_EQ(IssueCode(terminal_.id(), &fresh).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(h_.terminals->RetireTerminal(ApiHarness::As(h_.admin).get(), lr, &t).ok());
  EXPECT_EQ(Enroll(code, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(IssueCode(terminal_.id(), &fresh).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(EnrollmentTest, ReEnrollingAReplacedTerminalRevokesTheOldCertificate) {
  v1::EnrollResponse first, second;
  ASSERT_TRUE(Enroll(Code(), &first).ok());
  key_ = *pki::NewPrivateKey();  // the replacement device makes its own key
  ASSERT_TRUE(Enroll(Code(), &second).ok());
  const auto old_cert = *pki::InspectCert(first.certificate_pem());
  const auto new_cert = *pki::InspectCert(second.certificate_pem());
  EXPECT_NE(old_cert.serial, new_cert.serial);
  auto revoked = h_.store->RevokedCertificates();
  ASSERT_TRUE(revoked.ok());
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0].serial, old_cert.serial);
  EXPECT_EQ(Count("SELECT count(*) FROM certificates WHERE revoke_time IS NULL"), 1);
  EXPECT_EQ(Get().state(), v1::TERMINAL_STATE_ACTIVE);
}

TEST_F(EnrollmentTest, RetiringATerminalRevokesItsCertificate) {
  v1::EnrollResponse enrolled;
  ASSERT_TRUE(Enroll(Code(), &enrolled).ok());
  EXPECT_TRUE(h_.store->RevokedCertificates()->empty());
  v1::LifecycleRequest lr;
  lr.set_id(terminal_.id());
  lr.set_reason("stolen");
  v1::Terminal t;
  ASSERT_TRUE(h_.terminals->RetireTerminal(ApiHarness::As(h_.admin).get(), lr, &t).ok());
  auto revoked = h_.store->RevokedCertificates();
  ASSERT_TRUE(revoked.ok());
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0].serial, pki::InspectCert(enrolled.certificate_pem())->serial);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = 'TerminalService.RetireTerminal' "
                  "AND summary LIKE '%revoked 1 certificate%'"),
            1);
}

TEST_F(EnrollmentTest, RenewalRotatesTheKeyAndTheOldCertificateLivesOutItsTerm) {
  v1::EnrollResponse enrolled, renewed, retried, again;
  ASSERT_TRUE(Enroll(Code(), &enrolled).ok());
  const std::string new_key = *pki::NewPrivateKey();
  grpc::Status s = Renew(enrolled.certificate_pem(), new_key, key_, &renewed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto old_cert = *pki::InspectCert(enrolled.certificate_pem());
  auto info = pki::InspectCert(renewed.certificate_pem(), renewed.ca_pem());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, terminal_.id());
  EXPECT_NE(info->serial, old_cert.serial);
  EXPECT_EQ(info->public_key_sha256, *pki::CsrPublicKeySha256(*pki::MakeCsr(new_key, "x")));
  EXPECT_NEAR(absl::ToDoubleHours(info->not_after - absl::Now()), 24 * 90, 0.1);
  EXPECT_EQ(renewed.terminal_id(), terminal_.id());
  EXPECT_EQ(renewed.broker_address(), "ssl://broker:8883");
  // Both certificates are live: the old one expires by itself (a CRL entry per renewal would
  // grow the CRL with the estate).
  EXPECT_EQ(Count("SELECT count(*) FROM certificates WHERE revoke_time IS NULL"), 2);
  EXPECT_TRUE(h_.store->RevokedCertificates()->empty());
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.RenewCertificate", "OK"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = "
                  "'EnrollmentService.RenewCertificate' AND summary LIKE 'renewed certificate " +
                  old_cert.serial + "%" + info->serial + "%'"),
            1);

  // The response was lost: the same request again gets the same certificate, nothing new.
  ASSERT_TRUE(Renew(enrolled.certificate_pem(), new_key, key_, &retried).ok());
  EXPECT_EQ(retried.certificate_pem(), renewed.certificate_pem());
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 2);

  // The next renewal goes from the new certificate and key.
  ASSERT_TRUE(Renew(renewed.certificate_pem(), *pki::NewPrivateKey(), new_key, &again).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 3);
}

// A copy of an old certificate used to renew again and again (200 renewals of one certificate
// made 204 live certificates for one terminal). Only the newest renews; its predecessor only to
// fetch again the successor issued for the same key. Each renewed certificate starts after the
// one it replaces, which the broker uses to refuse the old one once the new one is in use.
TEST_F(EnrollmentTest, OnlyTheCurrentCertificateRenewsSoAnIdentityCannotFork) {
  v1::EnrollResponse a, b, c, retried;
  ASSERT_TRUE(Enroll(Code(), &a).ok());
  const std::string key_b = *pki::NewPrivateKey();
  ASSERT_TRUE(Renew(a.certificate_pem(), key_b, key_, &b).ok());
  for (int i = 0; i < 20; ++i) {
    v1::EnrollResponse forked;
    const grpc::Status s = Renew(a.certificate_pem(), *pki::NewPrivateKey(), key_, &forked);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    EXPECT_NE(s.error_message().find("superseded"), std::string::npos) << s.error_message();
  }
  // The retry of the renewal whose response was lost still gets its certificate.
  ASSERT_TRUE(Renew(a.certificate_pem(), key_b, key_, &retried).ok());
  EXPECT_EQ(retried.certificate_pem(), b.certificate_pem());
  const std::string key_c = *pki::NewPrivateKey();
  ASSERT_TRUE(Renew(b.certificate_pem(), key_c, key_b, &c).ok());
  // Now b is superseded too, and a cannot even fetch b again.
  EXPECT_EQ(Renew(b.certificate_pem(), *pki::NewPrivateKey(), key_b, &retried).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Renew(a.certificate_pem(), key_b, key_, &retried).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 3);
  const auto start = [](const v1::EnrollResponse& r) {
    return pki::InspectCert(r.certificate_pem())->not_before;
  };
  EXPECT_LT(start(a), start(b));
  EXPECT_LT(start(b), start(c));
  EXPECT_LE(start(c), absl::Now());
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.RenewCertificate", "UNAUTHENTICATED"),
            22);
}

TEST_F(EnrollmentTest, RenewalRefusesAnythingButTheTerminalItself) {
  v1::EnrollResponse enrolled, out;
  ASSERT_TRUE(Enroll(Code(), &enrolled).ok());
  const std::string cert = enrolled.certificate_pem();
  const std::string new_key = *pki::NewPrivateKey();
  auto refused = [&](grpc::Status s, grpc::StatusCode code, const std::string& words) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(words), std::string::npos) << s.error_message();
  };
  // Someone with a copy of the certificate but not its key.
  refused(Renew(cert, new_key, *pki::NewPrivateKey(), &out), grpc::StatusCode::UNAUTHENTICATED,
          "proof");
  // A proof of other bytes than the CSR sent.
  v1::RenewCertificateRequest r;
  r.set_certificate_pem(cert);
  r.set_csr_pem(*pki::MakeCsr(new_key, "SN1"));
  r.set_proof(*pki::SignData(key_, "something else"));
  grpc::ClientContext ctx;
  refused(enroll_->RenewCertificate(&ctx, r, &out), grpc::StatusCode::UNAUTHENTICATED, "proof");
  // The current key again, or a CSR for another subject.
  refused(Renew(cert, key_, key_, &out), grpc::StatusCode::INVALID_ARGUMENT, "new key");
  refused(Renew(cert, new_key, key_, &out, "SN2"), grpc::StatusCode::INVALID_ARGUMENT,
          "serial SN1");
  // Certificates this fleet did not issue to the terminal: garbage, another CA's, and one our
  // CA signed that was never handed out by enrollment.
  refused(Renew("garbage", new_key, key_, &out), grpc::StatusCode::UNAUTHENTICATED, "CA");
  auto other_ca = pki::CreateCa("someone else", absl::Hours(1));
  const std::string csr = *pki::MakeCsr(key_, "SN1");
  auto foreign = pki::SignCsr(*other_ca, csr, terminal_.id(), absl::Hours(1), pki::Usage::kClient);
  refused(Renew(foreign->cert_pem, new_key, key_, &out), grpc::StatusCode::UNAUTHENTICATED, "CA");
  auto unrecorded =
      pki::SignCsr(h_.enrollment.ca, csr, terminal_.id(), absl::Hours(1), pki::Usage::kClient);
  refused(Renew(unrecorded->cert_pem, new_key, key_, &out), grpc::StatusCode::UNAUTHENTICATED,
          "not a certificate this fleet issued");
  // Expired: too late to renew, the terminal must enroll again.
  auto expired =
      pki::SignCsr(h_.enrollment.ca, csr, terminal_.id(), -absl::Hours(1), pki::Usage::kClient);
  refused(Renew(expired->cert_pem, new_key, key_, &out), grpc::StatusCode::UNAUTHENTICATED,
          "expired");

  // Nothing was issued. The two refusals that name the terminal (the CN check runs once it is
  // known, and our CA's unrecorded certificate names it) have a row each under its tenant; the six
  // that name none are counted in one row for the caller's address.
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 1);
  h_.server->FlushAudit();
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = "
                  "'EnrollmentService.RenewCertificate' AND result <> 'OK' AND target_id <> ''"),
            2);
  EXPECT_EQ(h_.CountAudit(terminal_.id(), "EnrollmentService.RenewCertificate", "INVALID_ARGUMENT"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE method = "
                  "'EnrollmentService.RenewCertificate' AND target_id = '' AND summary LIKE "
                  "'6 refused call(s) naming no terminal from ipv4:127.0.0.1 %: "
                  "1 INVALID_ARGUMENT, 5 UNAUTHENTICATED'"),
            1);
}

TEST_F(EnrollmentTest, ReplacedAndRetiredTerminalsCannotRenew) {
  v1::EnrollResponse first, second, out;
  const std::string first_key = key_;
  ASSERT_TRUE(Enroll(Code(), &first).ok());
  key_ = *pki::NewPrivateKey();  // a replacement device enrolls: the first certificate is revoked
  ASSERT_TRUE(Enroll(Code(), &second).ok());
  grpc::Status s = Renew(first.certificate_pem(), *pki::NewPrivateKey(), first_key, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("revoked"), std::string::npos) << s.error_message();

  v1::LifecycleRequest lr;
  lr.set_id(terminal_.id());
  v1::Terminal t;
  ASSERT_TRUE(h_.terminals->RetireTerminal(ApiHarness::As(h_.admin).get(), lr, &t).ok());
  s = Renew(second.certificate_pem(), *pki::NewPrivateKey(), key_, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      h_.CountAudit(terminal_.id(), "EnrollmentService.RenewCertificate", "FAILED_PRECONDITION"),
      1);
}

TEST_F(EnrollmentTest, WhoMayIssueCodes) {
  v1::ActivationCode code;
  const std::string viewer = h_.CreateToken(v1::ROLE_VIEWER, tenant_.id());
  EXPECT_EQ(IssueCode(terminal_.id(), &code, viewer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const v1::Tenant other = h_.CreateTenant("other");
  const std::string other_tech = h_.CreateToken(v1::ROLE_TECHNICIAN, other.id());
  EXPECT_EQ(IssueCode(terminal_.id(), &code, other_tech).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::IssueActivationCodeRequest r;
  r.set_id(terminal_.id());
  r.set_ttl_seconds(10);
  EXPECT_EQ(h_.terminals->IssueActivationCode(ApiHarness::As(tech_).get(), r, &code).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EnrollmentTest, TerminalRoleCannotBeAToken) {
  v1::CreateTokenRequest r;
  r.set_name("t");
  r.set_role(v1::ROLE_TERMINAL);
  r.set_tenant_id(tenant_.id());
  v1::CreateTokenResponse out;
  EXPECT_EQ(h_.tokens->CreateToken(ApiHarness::As(h_.admin).get(), r, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace posfleet

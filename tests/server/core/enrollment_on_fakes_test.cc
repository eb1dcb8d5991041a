// Enrollment and certificate revocation on the in-memory repositories with simulated time: the
// decisions of core (codes, replay, renewal, throttle, retirement in one unit of work) without
// PostgreSQL. tests/server/contract/enrollment_contract_test.cc pins the repositories themselves.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pki.h"
#include "common/random.h"
#include "server/core/enrollment.h"
#include "server/core/terminal_registry.h"
#include "tests/support/fakes/memory_store.h"
#include "tests/support/simulated_env.h"

namespace posfleet::core {
namespace {

using ::testing::HasSubstr;
using testing::MemoryStore;
using testing::SimulatedEnv;

// A terminal repository whose updates fail: for proving that what a unit did before is undone.
class FailingUpdates final : public TerminalRepository {
 public:
  explicit FailingUpdates(TerminalRepository& inner) : inner_(inner) {}
  absl::StatusOr<Terminal> CreateTerminal(const Scope& s, const Terminal& t,
                                          AuditEntry a) override {
    return inner_.CreateTerminal(s, t, std::move(a));
  }
  absl::StatusOr<std::vector<BatchItemResult>> CreateTerminals(const Scope& s,
                                                               const std::vector<Terminal>& t,
                                                               bool all,
                                                               const AuditEntry& a) override {
    return inner_.CreateTerminals(s, t, all, a);
  }
  absl::StatusOr<Terminal> GetTerminal(const Scope& s, absl::string_view id) override {
    return inner_.GetTerminal(s, id);
  }
  absl::StatusOr<Slice<Terminal>> ListTerminals(const TerminalFilter& f, const Window& w) override {
    return inner_.ListTerminals(f, w);
  }
  absl::StatusOr<FleetSummary> SummarizeFleet(const TerminalFilter& f) override {
    return inner_.SummarizeFleet(f);
  }
  absl::StatusOr<Terminal> LockTerminal(const Scope& s, absl::string_view id) override {
    return inner_.LockTerminal(s, id);
  }
  absl::StatusOr<Terminal> UpdateTerminal(const Scope&, absl::string_view,
                                          const Mutation<Terminal>&, AuditEntry) override {
    return absl::UnavailableError("database unavailable: connection lost");
  }

 private:
  TerminalRepository& inner_;
};

class EnrollmentOnFakes : public ::testing::Test {
 protected:
  EnrollmentOnFakes() : store_(env_) {
    tenant_ = *store_.CreateTenant({NewId("ten"), "Acquirer A", {}, {}}, {});
    merchant_ =
        *store_.CreateMerchant({NewId("mer"), tenant_.id, "shop", "000001", "", {}, {}}, {});
    settings_.ca = *pki::CreateCa("posfleet test CA", absl::Hours(24 * 365));
    settings_.broker_address = "ssl://127.0.0.1:8883";
    settings_.code_key = std::string(32, 'k');
  }

  Terminal Provisioned(const std::string& serial) {
    Terminal spec;
    spec.id = NewId("trm");
    spec.merchant_id = merchant_.id;
    spec.vendor = "PAX";
    spec.model = "A920";
    spec.serial = serial;
    spec.state = TerminalState::kProvisioned;
    return *store_.CreateTerminal({}, spec, {});
  }

  EnrollRequest Request(const std::string& serial, const std::string& code, std::string* key) {
    *key = *pki::NewPrivateKey();
    return {"PAX", serial, code, *pki::MakeCsr(*key, serial), "10.0.0.1"};
  }

  std::vector<AuditEntry> Audit() { return store_.ListAudit({{tenant_.id}}, {0, 1000})->items; }

  SimulatedEnv env_;
  MemoryStore store_;
  Tenant tenant_;
  Merchant merchant_;
  EnrollmentSettings settings_;
};

TEST_F(EnrollmentOnFakes, ACodeEnrollsOnceAndARetriedCallGetsTheSameCertificate) {
  Enrollment enrollment(store_, store_, settings_, env_);
  const Actor op{"tok_op", "tester", Role::kOperator, tenant_.id};
  const Terminal t = Provisioned("SN-1");
  auto code = enrollment.IssueCode(op, t.id, 0);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->expire_time, env_.Now() + absl::Hours(24));

  std::string key;
  const EnrollRequest request = Request("SN-1", code->code, &key);
  auto enrolled = enrollment.Enroll(request);
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  auto info = pki::InspectCert(enrolled->certificate_pem, settings_.ca.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, t.id);  // the terminal id, whatever the CSR asked for
  EXPECT_EQ(store_.GetTerminal({}, t.id)->state, TerminalState::kActive);

  auto again = enrollment.Enroll(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->certificate_pem, enrolled->certificate_pem);
  // A second device with the same code (another key) learns nothing about why it was refused.
  std::string other_key;
  auto second = enrollment.Enroll(Request("SN-1", code->code, &other_key));
  EXPECT_EQ(second.status().message(), kEnrollmentRefused);
  for (const AuditEntry& e : Audit()) {
    EXPECT_EQ(e.summary.find(code->code), std::string::npos) << e.summary;
  }
}

TEST_F(EnrollmentOnFakes, RepeatedFailuresWaitInSimulatedTimeThenTheRightDeviceEnrolls) {
  Enrollment enrollment(store_, store_, settings_, env_);
  const Terminal t = Provisioned("SN-2");
  auto code = enrollment.IssueCode({"tok_op", "tester", Role::kOperator, tenant_.id}, t.id, 0);
  ASSERT_TRUE(code.ok()) << code.status();
  std::string key;
  for (int i = 0; i < 3; ++i) {  // the throttle's free failures, all with another serial
    EXPECT_EQ(enrollment.Enroll(Request("SN-OTHER", code->code, &key)).status().message(),
              kEnrollmentRefused);
  }
  auto fourth = enrollment.Enroll(Request("SN-OTHER", code->code, &key));
  EXPECT_EQ(fourth.status().message(), kEnrollmentRefused);
  // The source must now wait; the right device behind it too, until time passes.
  auto waiting = enrollment.Enroll(Request("SN-2", code->code, &key));
  EXPECT_TRUE(absl::IsResourceExhausted(waiting.status())) << waiting.status();
  env_.Advance(absl::Seconds(3));
  auto enrolled = enrollment.Enroll(Request("SN-2", code->code, &key));
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
}

TEST_F(EnrollmentOnFakes, ARenewalNeedsProofOfTheCurrentKeyAndANewOne) {
  Enrollment enrollment(store_, store_, settings_, env_);
  const Terminal t = Provisioned("SN-3");
  auto code = enrollment.IssueCode({"tok_op", "tester", Role::kOperator, tenant_.id}, t.id, 0);
  std::string key;
  auto enrolled = enrollment.Enroll(Request("SN-3", code->code, &key));
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();

  const std::string same_csr = *pki::MakeCsr(key, "SN-3");
  auto same = enrollment.Renew(
      {enrolled->certificate_pem, same_csr, *pki::SignData(key, same_csr), "10.0.0.1"});
  EXPECT_THAT(same.status().message(), HasSubstr("needs a new key"));

  env_.Advance(absl::Hours(24 * 60));  // renewals come weeks after enrollment
  const std::string new_key = *pki::NewPrivateKey();
  const std::string csr = *pki::MakeCsr(new_key, "SN-3");
  auto forged =
      enrollment.Renew({enrolled->certificate_pem, csr, *pki::SignData(new_key, csr), ""});
  EXPECT_THAT(forged.status().message(), HasSubstr("not a signature"));
  const RenewRequest renewal{enrolled->certificate_pem, csr, *pki::SignData(key, csr), ""};
  auto renewed = enrollment.Renew(renewal);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->certificate_pem, enrolled->certificate_pem);
  EXPECT_EQ(enrollment.Renew(renewal)->certificate_pem, renewed->certificate_pem);  // a retry

  // Once the certificate has expired, only a new activation code helps.
  env_.Advance(settings_.certificate_validity + absl::Hours(1));
  auto late = enrollment.Renew(
      {renewed->certificate_pem, *pki::MakeCsr(key, "SN-3"), *pki::SignData(new_key, csr), ""});
  EXPECT_THAT(late.status().message(), HasSubstr("expired on"));
}

TEST_F(EnrollmentOnFakes, RetiringRevokesTheCertificatesInTheSameUnitOfWork) {
  Enrollment enrollment(store_, store_, settings_, env_);
  const Actor op{"tok_op", "tester", Role::kOperator, tenant_.id};
  const Terminal t = Provisioned("SN-4");
  std::string key;
  auto enrolled = enrollment.Enroll(Request("SN-4", enrollment.IssueCode(op, t.id, 0)->code, &key));
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  const std::string serial =
      pki::InspectCert(enrolled->certificate_pem, settings_.ca.cert_pem)->serial;

  // The state change fails after the revocation: the unit undoes the revocation too.
  FailingUpdates failing(store_);
  TerminalRegistry broken(failing, store_, store_, store_, store_);
  auto refused = broken.ChangeLifecycle(op, t.id, LifecycleAction::kRetire, "stolen");
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_TRUE(store_.RevokedCertificates()->empty());
  EXPECT_EQ(store_.GetTerminal({}, t.id)->state, TerminalState::kActive);

  TerminalRegistry registry(store_, store_, store_, store_, store_);
  auto retired = registry.ChangeLifecycle(op, t.id, LifecycleAction::kRetire, "stolen");
  ASSERT_TRUE(retired.ok()) << retired.status();
  auto revoked = store_.RevokedCertificates();
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0].serial, serial);
  EXPECT_THAT(Audit().front().summary, HasSubstr("active -> retired (reason: stolen); revoked 1"));
  // Retiring again changes nothing and revokes nothing more.
  ASSERT_TRUE(registry.ChangeLifecycle(op, t.id, LifecycleAction::kRetire, "").ok());
  EXPECT_THAT(Audit().front().summary, HasSubstr("no change"));
  // Its key renews nothing.
  const std::string csr = *pki::MakeCsr(*pki::NewPrivateKey(), "SN-4");
  auto renewal = enrollment.Renew({enrolled->certificate_pem, csr, *pki::SignData(key, csr), ""});
  EXPECT_THAT(renewal.status().message(), HasSubstr("is retired"));
}

}  // namespace
}  // namespace posfleet::core

// The contract of the enrollment repository (codes, certificates, the CA, link disconnects) and of
// the unit of work. Certificates here are opaque rows: the repository stores what the issuer
// callback returns and never parses it.

#include <gmock/gmock.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/core/lifecycle.h"
#include "tests/server/contract/contract_fixture.h"

namespace posfleet::testing {
namespace {

using core::TerminalState;
using ::testing::HasSubstr;

// A certificate as an issuer would return it: what the store keeps of it.
pki::Issued FakeCertificate(const std::string& key) {
  const std::string serial = absl::AsciiStrToLower(NewId("c").substr(2));
  return pki::Issued{absl::StrCat("-----PEM ", serial, "-----"), serial,
                     absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24))),
                     key};
}

class EnrollmentContract : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    tenant_ = NewTenant();
    merchant_ = NewMerchant(tenant_.id);
  }

  core::Terminal Provisioned(const std::string& serial) {
    return NewTerminal(merchant_, serial, TerminalState::kProvisioned);
  }

  absl::Status GiveCode(const core::Terminal& t, const std::string& hash,
                        absl::Duration ttl = absl::Hours(1)) {
    return enrollment()
        .StoreActivationCode({}, t.id, hash, ttl, Audit("IssueActivationCode"))
        .status();
  }

  // Redeems `hash` as vendor PAX, `serial`, for `key`; counts the issuer's calls in issued_.
  absl::StatusOr<core::Terminal> Redeem(const std::string& hash, const std::string& serial,
                                        const std::string& key) {
    core::AuditEntry audit = Audit("Enroll");
    replayed_.reset();
    return enrollment().RedeemActivationCode(
        hash, "PAX", serial, key,
        [&](const core::Terminal&) -> absl::StatusOr<pki::Issued> {
          issued_.push_back(FakeCertificate(key));
          return issued_.back();
        },
        replayed_, audit);
  }

  absl::StatusOr<core::Terminal> Renew(const core::Terminal& t, const std::string& current,
                                       const std::string& key) {
    core::AuditEntry audit = Audit("RenewCertificate");
    replayed_.reset();
    return enrollment().RenewCertificate(
        t.id, current, key,
        [&](const core::Terminal&) -> absl::StatusOr<pki::Issued> {
          issued_.push_back(FakeCertificate(key));
          return issued_.back();
        },
        replayed_, audit);
  }

  std::vector<std::string> RevokedSerials() {
    auto revoked = enrollment().RevokedCertificates();
    EXPECT_TRUE(revoked.ok()) << revoked.status();
    std::vector<std::string> out;
    if (revoked.ok()) {
      for (const pki::Revoked& r : *revoked) out.push_back(r.serial);
    }
    return out;
  }

  core::Tenant tenant_;
  core::Merchant merchant_;
  std::vector<pki::Issued> issued_;
  std::optional<pki::Issued> replayed_;
};

TEST_P(EnrollmentContract, CodesGoOnlyToTerminalsInScopeThatMayEnroll) {
  const core::Terminal t = Provisioned("SN-CODE");
  const core::Tenant other = NewTenant();
  auto hidden = enrollment().StoreActivationCode({other.id}, t.id, "h-hidden", absl::Hours(1),
                                                 Audit("IssueActivationCode"));
  EXPECT_TRUE(absl::IsNotFound(hidden.status())) << hidden.status();

  auto first = enrollment().StoreActivationCode({tenant_.id}, t.id, "h-1", absl::Hours(1),
                                                Audit("IssueActivationCode"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = enrollment().StoreActivationCode({}, t.id, "h-2", absl::Hours(3),
                                                 Audit("IssueActivationCode"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(*second - *first, absl::Minutes(119));
  EXPECT_LT(*second - *first, absl::Minutes(121));
  // The second code replaced the first.
  EXPECT_TRUE(absl::IsUnauthenticated(Redeem("h-1", "SN-CODE", "k1").status()));
  EXPECT_EQ(AuditOf(tenant_.id).front().method, "IssueActivationCode");

  const core::Terminal suspended = NewTerminal(merchant_, "SN-SUS", TerminalState::kSuspended);
  const core::Terminal retired = NewTerminal(merchant_, "SN-RET", TerminalState::kRetired);
  auto s = GiveCode(suspended, "h-s");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("reactivate it first"));
  EXPECT_TRUE(absl::IsFailedPrecondition(GiveCode(retired, "h-r")));
}

TEST_P(EnrollmentContract, ACodeIssuesOnceThenOnlyReplaysForTheSameKey) {
  const core::Terminal t = Provisioned("SN-ONCE");
  ASSERT_TRUE(GiveCode(t, "h-once").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(Redeem("h-unknown", "SN-ONCE", "k1").status()));

  auto enrolled = Redeem("h-once", "SN-ONCE", "k1");
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_EQ(enrolled->state, TerminalState::kActive);
  EXPECT_TRUE(enrolled->enroll_time.has_value());
  ASSERT_EQ(issued_.size(), 1u);
  EXPECT_FALSE(replayed_);
  EXPECT_EQ(AuditOf(tenant_.id).front().target_id, t.id);

  // The agent retries after a lost response: the same certificate, nothing issued.
  auto again = Redeem("h-once", "SN-ONCE", "k1");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(replayed_);
  EXPECT_EQ(replayed_->serial, issued_[0].serial);
  EXPECT_EQ(replayed_->cert_pem, issued_[0].cert_pem);
  EXPECT_EQ(replayed_->not_after, issued_[0].not_after);
  EXPECT_EQ(issued_.size(), 1u);
  EXPECT_THAT(AuditOf(tenant_.id).front().summary, HasSubstr("re-sent certificate"));

  // Another key with the used code is a second device.
  auto other = Redeem("h-once", "SN-ONCE", "k2");
  EXPECT_TRUE(absl::IsUnauthenticated(other.status()));
  EXPECT_THAT(other.status().message(), HasSubstr("already used"));
}

TEST_P(EnrollmentContract, MismatchesAreCountedThoughTheyFailAndLockTheCode) {
  const core::Terminal t = Provisioned("SN-LOCK");
  ASSERT_TRUE(GiveCode(t, "h-lock").ok());
  for (int i = 0; i < core::kMaxActivationCodeFailures; ++i) {
    auto wrong = Redeem("h-lock", "SN-WRONG", "k1");
    EXPECT_TRUE(absl::IsPermissionDenied(wrong.status())) << wrong.status();
  }
  auto right = Redeem("h-lock", "SN-LOCK", "k1");
  EXPECT_TRUE(absl::IsUnauthenticated(right.status()));
  EXPECT_THAT(right.status().message(), HasSubstr("locked after"));
  EXPECT_TRUE(issued_.empty());

  const core::Terminal late = Provisioned("SN-LATE");
  ASSERT_TRUE(GiveCode(late, "h-late", absl::ZeroDuration()).ok());
  auto expired = Redeem("h-late", "SN-LATE", "k1");
  EXPECT_THAT(expired.status().message(), HasSubstr("expired"));
}

TEST_P(EnrollmentContract, ReEnrollmentAndRevocationListOnlyLiveSerials) {
  const core::Terminal t = Provisioned("SN-RE");
  ASSERT_TRUE(GiveCode(t, "h-re-1").ok());
  ASSERT_TRUE(Redeem("h-re-1", "SN-RE", "k1").ok());
  ASSERT_TRUE(GiveCode(t, "h-re-2").ok());
  ASSERT_TRUE(Redeem("h-re-2", "SN-RE", "k2").ok());
  ASSERT_EQ(issued_.size(), 2u);
  EXPECT_EQ(RevokedSerials(), std::vector<std::string>{issued_[0].serial});

  auto revoked = enrollment().RevokeCertificates(t.id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(*revoked, 1);
  EXPECT_EQ(*enrollment().RevokeCertificates(t.id), 0);
  std::vector<std::string> both = {issued_[0].serial, issued_[1].serial};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(RevokedSerials(), both);
}

TEST_P(EnrollmentContract, OnlyTheNewestCertificateRenewsAndARetryReplays) {
  const core::Terminal t = Provisioned("SN-RENEW");
  ASSERT_TRUE(GiveCode(t, "h-renew").ok());
  ASSERT_TRUE(Redeem("h-renew", "SN-RENEW", "k1").ok());
  const std::string first = issued_[0].serial;

  ASSERT_TRUE(Renew(t, first, "k2").ok());
  ASSERT_EQ(issued_.size(), 2u);
  EXPECT_FALSE(replayed_);
  // The same renewal again (the response was lost): the same successor.
  ASSERT_TRUE(Renew(t, first, "k2").ok());
  ASSERT_TRUE(replayed_);
  EXPECT_EQ(replayed_->serial, issued_[1].serial);
  EXPECT_EQ(issued_.size(), 2u);
  // From the superseded certificate for another key: a fork, refused.
  auto fork = Renew(t, first, "k3");
  EXPECT_THAT(fork.status().message(), HasSubstr("superseded"));
  // From the current one: fine.
  ASSERT_TRUE(Renew(t, issued_[1].serial, "k3").ok());
  EXPECT_EQ(issued_.size(), 3u);

  EXPECT_THAT(Renew(t, "ffff", "k4").status().message(), HasSubstr("not a certificate"));
  core::Terminal ghost = t;
  ghost.id = NewId("trm");
  EXPECT_TRUE(absl::IsUnauthenticated(Renew(ghost, first, "k4").status()));
  ASSERT_TRUE(enrollment().RevokeCertificates(t.id).ok());
  EXPECT_THAT(Renew(t, issued_[2].serial, "k4").status().message(), HasSubstr("revoked"));
}

TEST_P(EnrollmentContract, TheFirstStoredCaStays) {
  auto first = enrollment().LoadOrStoreCa({"cert-a", "key-a"});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = enrollment().LoadOrStoreCa({"cert-b", "key-b"});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->cert_pem, "cert-a");
  EXPECT_EQ(second->key_pem, "key-a");
}

TEST_P(EnrollmentContract, SuspendingOrRetiringRequestsADisconnectUntilDone) {
  const core::Terminal t = NewTerminal(merchant_, "SN-DISC");
  auto to = [&](TerminalState s) {
    auto updated = terminals().UpdateTerminal(
        {}, t.id,
        [&](core::Terminal& row) -> absl::StatusOr<std::string> {
          row.state = s;
          return std::string("state");
        },
        Audit("UpdateTerminal"));
    ASSERT_TRUE(updated.ok()) << updated.status();
  };
  ASSERT_TRUE(enrollment().PendingLinkDisconnects(10)->empty());
  to(TerminalState::kSuspended);
  auto pending = enrollment().PendingLinkDisconnects(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  const core::LinkDisconnect first = pending->front();
  EXPECT_EQ(first.terminal_id, t.id);
  EXPECT_FALSE(first.retired);

  to(TerminalState::kActive);
  to(TerminalState::kRetired);
  // Done with the first request only: the one made since stays.
  ASSERT_TRUE(enrollment().CompleteLinkDisconnects({first}).ok());
  pending = enrollment().PendingLinkDisconnects(10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_TRUE(pending->front().retired);
  EXPECT_GT(pending->front().request_micros, first.request_micros);
  ASSERT_TRUE(enrollment().CompleteLinkDisconnects(*pending).ok());
  EXPECT_TRUE(enrollment().PendingLinkDisconnects(10)->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, EnrollmentContract, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

// --- The unit of work -------------------------------------------------------------------------

TEST_P(ContractTest, AUnitOfWorkCommitsAllOrNothingAcrossRepositories) {
  const core::Tenant tenant = NewTenant();
  const core::Merchant m = NewMerchant(tenant.id);
  const size_t audit_before = AuditOf(tenant.id).size();
  core::Terminal kept;
  absl::Status failed = unit().Run([&]() -> absl::Status {
    auto t = terminals().CreateTerminal({}, Spec(m.id, "SN-UNIT", TerminalState::kProvisioned),
                                        Audit("CreateTerminal"));
    if (!t.ok()) return t.status();
    kept = *t;
    auto code = enrollment().StoreActivationCode({}, t->id, "h-unit", absl::Hours(1),
                                                 Audit("IssueActivationCode"));
    if (!code.ok()) return code.status();
    return absl::FailedPreconditionError("the work changed its mind");
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(failed)) << failed;
  EXPECT_TRUE(absl::IsNotFound(terminals().GetTerminal({}, kept.id).status()));
  EXPECT_EQ(AuditOf(tenant.id).size(), audit_before);

  ASSERT_TRUE(unit()
                  .Run([&]() -> absl::Status {
                    auto t = terminals().CreateTerminal(
                        {}, Spec(m.id, "SN-UNIT", TerminalState::kProvisioned),
                        Audit("CreateTerminal"));
                    if (!t.ok()) return t.status();
                    kept = *t;
                    return enrollment()
                        .StoreActivationCode({}, t->id, "h-unit", absl::Hours(1),
                                             Audit("IssueActivationCode"))
                        .status();
                  })
                  .ok());
  EXPECT_TRUE(terminals().GetTerminal({}, kept.id).ok());
  EXPECT_EQ(AuditOf(tenant.id).size(), audit_before + 2);
}

TEST_P(ContractTest, ARefusedCallInsideAUnitUndoesOnlyItself) {
  const core::Tenant tenant = NewTenant();
  const core::Merchant m = NewMerchant(tenant.id);
  std::string first_id;
  absl::Status second;
  absl::Status third;
  const absl::Status ran = unit().Run([&]() -> absl::Status {
    auto t = terminals().CreateTerminal({}, Spec(m.id, "SN-SAVE"), Audit("CreateTerminal"));
    if (!t.ok()) return t.status();
    first_id = t->id;
    // The same serial again: refused by the uniqueness rule.
    second =
        terminals().CreateTerminal({}, Spec(m.id, "SN-SAVE"), Audit("CreateTerminal")).status();
    // The unit goes on after a refusal it expected.
    third = terminals().LockTerminal({}, first_id).status();
    return third;
  });
  ASSERT_TRUE(ran.ok()) << ran << " / " << second << " / " << third;
  EXPECT_TRUE(absl::IsAlreadyExists(second)) << second;
  EXPECT_TRUE(terminals().GetTerminal({}, first_id).ok());
}

TEST_P(ContractTest, AnAbortedUnitRunsAgainFromNothing) {
  const core::Tenant tenant = NewTenant();
  const core::Merchant m = NewMerchant(tenant.id);
  int runs = 0;
  std::vector<std::string> ids;
  ASSERT_TRUE(unit()
                  .Run([&]() -> absl::Status {
                    ++runs;
                    auto t = terminals().CreateTerminal(
                        {}, Spec(m.id, absl::StrCat("SN-RUN-", runs)), Audit("CreateTerminal"));
                    if (!t.ok()) return t.status();
                    ids.push_back(t->id);
                    // As a serialization failure would: the store retries the whole unit.
                    if (runs == 1) return absl::AbortedError("serialization failure");
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(runs, 2);
  EXPECT_TRUE(absl::IsNotFound(terminals().GetTerminal({}, ids[0]).status()));
  EXPECT_TRUE(terminals().GetTerminal({}, ids[1]).ok());
}

}  // namespace
}  // namespace posfleet::testing

// The terminal's software trust kept across restarts: a root, assignments and counters are kept
// only after they verify, and a restart (a new SoftwareTrust on the same directory, as after a
// kill -9) finds exactly what was kept.

#include "agent/software_trust.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/signing.h"

namespace posfleet::agent {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::string NewKey() { return *signing::NewKey(signing::Scheme::kEcdsaP256Sha256); }

class SoftwareTrustTest : public ::testing::Test {
 protected:
  SoftwareTrustTest()
      : root_keys_{NewKey(), NewKey()}, targets_key_(NewKey()), director_key_(NewKey()) {
    char tmpl[] = "/tmp/posfleet-trust-XXXXXX";
    path_ = mkdtemp(tmpl);
    dir_.emplace(path_);
    EXPECT_TRUE(dir_->Init().ok());
  }
  ~SoftwareTrustTest() override {
    if (std::system(absl::StrCat("rm -rf '", path_, "'").c_str()) != 0) ADD_FAILURE();
  }

  std::string Root(uint64_t version, const std::vector<std::string>& signers) {
    v1::RootMetadata root;
    root.set_version(version);
    root.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24 * 365)));
    auto add = [&](v1::KeyRole* role, const std::vector<std::string>& pems) {
      for (const std::string& pem : pems) {
        trust::NamedKey k = *trust::NameKey(pem);
        (*root.mutable_keys())[k.id] = k.key;
        role->add_key_ids(k.id);
      }
      role->set_threshold(1);
    };
    add(root.mutable_root(), root_keys_);
    add(root.mutable_targets(), {targets_key_});
    add(root.mutable_director(), {director_key_});
    return trust::SignDocument(trust::kRootType, root, signers)->SerializeAsString();
  }

  v1::ReleaseMetadata Release(uint64_t counter) {
    v1::ReleaseMetadata r;
    r.set_name("payment-app");
    r.set_version(absl::StrCat("1.", counter));
    r.set_counter(counter);
    r.add_hardware_models("PAX/A920");
    r.set_length(1000);
    r.set_sha256(Sha256Hex(absl::StrCat("image ", counter)));
    r.set_chunk_size(1 << 20);
    r.set_chunks_sha256(Sha256Hex(absl::StrCat("chunks ", counter)));
    r.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24)));
    r.set_kind("app");
    return r;
  }

  std::string Signed(absl::string_view type, const google::protobuf::MessageLite& doc,
                     const std::string& key) {
    return trust::SignDocument(type, doc, {key})->SerializeAsString();
  }

  std::string AssignmentOf(const v1::ReleaseMetadata& r, absl::Duration issued_ago,
                           const std::string& terminal = "trm_1") {
    v1::Assignment a;
    a.set_terminal_id(terminal);
    a.set_release_name(r.name());
    a.set_release_counter(r.counter());
    a.set_sha256(r.sha256());
    a.set_length(r.length());
    a.set_hardware_model("PAX/A920");
    a.set_issue_unix_seconds(absl::ToUnixSeconds(kNow - issued_ago));
    a.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(1)));
    return Signed(trust::kAssignmentType, a, director_key_);
  }

  absl::StatusOr<SoftwareTrust> Open(std::optional<std::string> provisioned = std::nullopt) {
    return SoftwareTrust::Open(*dir_, "trm_1", std::move(provisioned));
  }

  std::vector<std::string> root_keys_;
  std::string targets_key_, director_key_;
  std::string path_;
  std::optional<StateDir> dir_;
};

TEST_F(SoftwareTrustTest, AProvisionedRootIsKeptAndAKeptOneWinsAfterARestart) {
  EXPECT_TRUE(absl::IsFailedPrecondition(Open().status()));
  // A root that does not verify is not kept.
  EXPECT_FALSE(Open(Root(1, {})).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(Open().status()));

  auto trust = Open(Root(1, {root_keys_[0]}));
  ASSERT_TRUE(trust.ok()) << trust.status();
  ASSERT_TRUE(trust->UpdateRoot(Root(2, {root_keys_[0], root_keys_[1]})).ok());
  EXPECT_FALSE(trust->UpdateRoot(Root(4, {root_keys_[0]})).ok());  // skips a version
  EXPECT_EQ(trust->root().version(), 2u);

  // After a restart the kept version 2 is in force, whatever root is provisioned.
  auto again = Open(Root(1, {root_keys_[0]}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->root().version(), 2u);

  // A kept root changed on the device is noticed.
  std::ofstream(path_ + "/trust-root", std::ios::binary | std::ios::trunc) << "tampered";
  EXPECT_TRUE(absl::IsDataLoss(Open().status()));
}

TEST_F(SoftwareTrustTest, OnlyANewerAssignmentOfThisTerminalIsKept) {
  auto trust = Open(Root(1, {root_keys_[0]}));
  ASSERT_TRUE(trust.ok());
  const v1::ReleaseMetadata r7 = Release(7);
  EXPECT_TRUE(absl::IsPermissionDenied(
      trust->Accept(AssignmentOf(r7, absl::Minutes(5), "trm_2"), kNow).status()));
  // Signed by the targets key instead of the director's: refused.
  EXPECT_FALSE(
      trust->Accept(Signed(trust::kAssignmentType, v1::Assignment(), targets_key_), kNow).ok());
  ASSERT_TRUE(trust->Accept(AssignmentOf(r7, absl::Minutes(5)), kNow).ok());
  EXPECT_FALSE(trust->Accept(AssignmentOf(Release(6), absl::Minutes(10)), kNow).ok());  // older
  EXPECT_EQ(trust->held()->release_counter(), 7u);

  auto again = Open();
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->held().has_value());
  EXPECT_EQ(again->held()->release_counter(), 7u);
  EXPECT_FALSE(again->Accept(AssignmentOf(Release(6), absl::Minutes(10)), kNow).ok());
  ASSERT_TRUE(again->Accept(AssignmentOf(Release(8), absl::Minutes(1)), kNow).ok());
}

TEST_F(SoftwareTrustTest, ARunningCounterIsKeptAndGuardsAgainstGoingBack) {
  auto trust = Open(Root(1, {root_keys_[0]}));
  ASSERT_TRUE(trust.ok());
  const v1::ReleaseMetadata r7 = Release(7);
  const std::string release7 = Signed(trust::kReleaseType, r7, targets_key_);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(trust->Approve(release7, nullptr, "PAX/A920", kNow).status()));
  ASSERT_TRUE(trust->Accept(AssignmentOf(r7, absl::Minutes(5)), kNow).ok());
  // The release must be signed by the targets key, and be the one assigned.
  EXPECT_FALSE(
      trust->Approve(Signed(trust::kReleaseType, r7, director_key_), nullptr, "PAX/A920", kNow)
          .ok());
  EXPECT_FALSE(trust
                   ->Approve(Signed(trust::kReleaseType, Release(8), targets_key_), nullptr,
                             "PAX/A920", kNow)
                   .ok());
  EXPECT_FALSE(trust->Approve(release7, nullptr, "PAX/A80", kNow).ok());
  ASSERT_TRUE(trust->Approve(release7, nullptr, "PAX/A920", kNow).ok());
  ASSERT_TRUE(trust->RecordInstalled("payment-app", 9).ok());

  // After a restart, counter 9 is what runs: 7 goes back and needs an authorisation.
  auto again = Open();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->installed_counter("payment-app"), 9u);
  auto back = again->Approve(release7, nullptr, "PAX/A920", kNow);
  EXPECT_TRUE(absl::IsFailedPrecondition(back.status()));
  EXPECT_NE(back.status().message().find("downgrade authorisation"), std::string::npos);
  v1::DowngradeAuthorization allow;
  allow.set_name(r7.name());
  allow.set_to_counter(r7.counter());
  allow.set_to_sha256(r7.sha256());
  allow.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(1)));
  const std::string by_director = Signed(trust::kDowngradeType, allow, director_key_);
  EXPECT_FALSE(again->Approve(release7, &by_director, "PAX/A920", kNow).ok());
  const std::string signed_allow = Signed(trust::kDowngradeType, allow, targets_key_);
  EXPECT_TRUE(again->Approve(release7, &signed_allow, "PAX/A920", kNow).ok());
}

}  // namespace
}  // namespace posfleet::agent

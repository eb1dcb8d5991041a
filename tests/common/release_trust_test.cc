// The software trust rules (issue 18): every property a compromised server, a stolen key below
// the threshold or a tampered document would test, including the mistakes real TUF clients
// made (a key counted twice, a threshold of 0, a root version that skips, an envelope of one
// type read as another).

#include "common/release_trust.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/signing.h"

namespace posfleet::trust {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::string Key(signing::Scheme scheme = signing::Scheme::kEcdsaP256Sha256) {
  absl::StatusOr<std::string> key = signing::NewKey(scheme);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : "";
}

std::string IdOf(const std::string& pem) { return NameKey(pem)->id; }

void AddKeys(v1::RootMetadata& root, v1::KeyRole* role, const std::vector<std::string>& pems,
             uint32_t threshold) {
  for (const std::string& pem : pems) {
    NamedKey named = *NameKey(pem);
    (*root.mutable_keys())[named.id] = named.key;
    role->add_key_ids(named.id);
  }
  role->set_threshold(threshold);
}

std::string Bytes(const v1::SignedEnvelope& e) { return e.SerializeAsString(); }

std::string Signed(absl::string_view type, const google::protobuf::MessageLite& doc,
                   const std::vector<std::string>& pems) {
  absl::StatusOr<v1::SignedEnvelope> e = SignDocument(type, doc, pems);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? Bytes(*e) : "";
}

class TrustTest : public ::testing::Test {
 protected:
  TrustTest()
      : root_keys_{Key(), Key(signing::Scheme::kEd25519), Key()},
        targets_keys_{Key(), Key(signing::Scheme::kEd25519)},
        director_key_(Key()) {
    root_ = RootV(1, root_keys_);
  }

  // Version `version` with `root_pems` (threshold 2), the targets keys (threshold 2) and the
  // director key (threshold 1), expiring a year after kNow.
  v1::RootMetadata RootV(uint64_t version, const std::vector<std::string>& root_pems) {
    v1::RootMetadata root;
    root.set_version(version);
    root.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24 * 365)));
    AddKeys(root, root.mutable_root(), root_pems, 2);
    AddKeys(root, root.mutable_targets(), targets_keys_, 2);
    AddKeys(root, root.mutable_director(), {director_key_}, 1);
    return root;
  }

  TrustedRoot Trusted() {
    absl::StatusOr<TrustedRoot> r =
        TrustedRoot::FromAnchor(Signed(kRootType, root_, {root_keys_[0], root_keys_[1]}));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  v1::ReleaseMetadata Release(uint64_t counter = 7) {
    v1::ReleaseMetadata r;
    r.set_name("payment-app");
    r.set_version(absl::StrCat("4.2.", counter));
    r.set_counter(counter);
    r.add_hardware_models("PAX/A920");
    r.add_hardware_models("PAX/A80");
    r.set_length(20 << 20);
    r.set_sha256(Sha256Hex(absl::StrCat("image ", counter)));
    r.set_chunk_size(1 << 20);
    r.set_chunks_sha256(Sha256Hex(absl::StrCat("chunks ", counter)));
    r.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24 * 90)));
    r.set_kind("app");
    return r;
  }

  v1::Assignment AssignmentOf(const v1::ReleaseMetadata& r) {
    v1::Assignment a;
    a.set_terminal_id("trm_1");
    a.set_release_name(r.name());
    a.set_release_counter(r.counter());
    a.set_sha256(r.sha256());
    a.set_length(r.length());
    a.set_hardware_model("PAX/A920");
    a.set_issue_unix_seconds(absl::ToUnixSeconds(kNow - absl::Minutes(1)));
    a.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(1)));
    return a;
  }

  std::vector<std::string> root_keys_;
  std::vector<std::string> targets_keys_;
  std::string director_key_;
  v1::RootMetadata root_;
};

TEST(SigningTest, BothSchemesSignAndOnlyTheRightKeyAndDataVerify) {
  for (signing::Scheme scheme : {signing::Scheme::kEcdsaP256Sha256, signing::Scheme::kEd25519}) {
    const std::string pem = Key(scheme);
    absl::StatusOr<signing::PublicKey> pub = signing::PublicKeyOf(pem);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(pub->scheme, scheme);
    EXPECT_TRUE(signing::CheckPublicKey(*pub).ok());
    absl::StatusOr<std::string> sig = signing::Sign(pem, "release bytes");
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE(signing::Verify(*pub, "release bytes", *sig));
    EXPECT_FALSE(signing::Verify(*pub, "release byteS", *sig));
    EXPECT_FALSE(signing::Verify(*signing::PublicKeyOf(Key(scheme)), "release bytes", *sig));
    // A key that claims the other scheme never verifies, and is not a valid key entry.
    signing::PublicKey lying = *pub;
    lying.scheme = scheme == signing::Scheme::kEd25519 ? signing::Scheme::kEcdsaP256Sha256
                                                       : signing::Scheme::kEd25519;
    EXPECT_FALSE(signing::Verify(lying, "release bytes", *sig));
    EXPECT_FALSE(signing::CheckPublicKey(lying).ok());
    // Trailing bytes make another encoding of the same key: refused, so one key has one id.
    signing::PublicKey padded = *pub;
    padded.spki_der.push_back('\0');
    EXPECT_FALSE(signing::CheckPublicKey(padded).ok());
    EXPECT_FALSE(signing::Verify(padded, "release bytes", *sig));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(signing::PublicKeyOf("not a key").status()));
}

TEST_F(TrustTest, AnAnchorNeedsTheThresholdOfItsOwnRootKeys) {
  EXPECT_EQ(Trusted().version(), 1u);
  auto one = TrustedRoot::FromAnchor(Signed(kRootType, root_, {root_keys_[0]}));
  EXPECT_TRUE(absl::IsPermissionDenied(one.status())) << one.status();
  EXPECT_NE(one.status().message().find("signed by 1 of the 2"), std::string::npos);
  // The same key signing twice is one key.
  absl::StatusOr<v1::SignedEnvelope> twice = SignDocument(kRootType, root_, {root_keys_[0]});
  ASSERT_TRUE(AddSignature(*twice, root_keys_[0]).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(TrustedRoot::FromAnchor(Bytes(*twice)).status()));
  // Signatures by keys the root does not name for its root role count for nothing.
  auto others = TrustedRoot::FromAnchor(
      Signed(kRootType, root_, {root_keys_[0], targets_keys_[0], director_key_, Key()}));
  EXPECT_TRUE(absl::IsPermissionDenied(others.status())) << others.status();
}

TEST_F(TrustTest, AKeyCannotBeCountedTwiceUnderAnotherId) {
  // The same key entered again under a made-up id, and listed twice towards the threshold.
  v1::RootMetadata forged = root_;
  const std::string fake_id = Sha256Hex("not the key");
  (*forged.mutable_keys())[fake_id] = forged.keys().at(IdOf(root_keys_[0]));
  forged.mutable_root()->add_key_ids(fake_id);
  auto refused = TrustedRoot::FromAnchor(Signed(kRootType, forged, root_keys_));
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("is not the id of its key"), std::string::npos);

  v1::RootMetadata listed_twice = root_;
  listed_twice.mutable_root()->add_key_ids(IdOf(root_keys_[0]));
  auto twice = TrustedRoot::FromAnchor(Signed(kRootType, listed_twice, root_keys_));
  EXPECT_TRUE(absl::IsInvalidArgument(twice.status()));
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos);
}

TEST_F(TrustTest, AThresholdOfZeroOrAboveItsKeysIsRefused) {
  for (v1::KeyRole* (v1::RootMetadata::*role)() :
       {&v1::RootMetadata::mutable_root, &v1::RootMetadata::mutable_targets,
        &v1::RootMetadata::mutable_director}) {
    v1::RootMetadata zero = root_;
    (zero.*role)()->set_threshold(0);
    auto z = TrustedRoot::FromAnchor(Signed(kRootType, zero, root_keys_));
    EXPECT_TRUE(absl::IsInvalidArgument(z.status())) << z.status();
    EXPECT_NE(z.status().message().find("threshold is 0"), std::string::npos);
    v1::RootMetadata above = root_;
    (above.*role)()->set_threshold(4);
    EXPECT_TRUE(absl::IsInvalidArgument(
        TrustedRoot::FromAnchor(Signed(kRootType, above, root_keys_)).status()));
  }
  v1::RootMetadata unknown = root_;
  unknown.mutable_targets()->add_key_ids(Sha256Hex("nobody"));
  EXPECT_TRUE(absl::IsInvalidArgument(
      TrustedRoot::FromAnchor(Signed(kRootType, unknown, root_keys_)).status()));
}

TEST_F(TrustTest, ARootRotatesOnlyToTheNextVersionSignedByOldAndNewKeys) {
  const TrustedRoot v1 = Trusted();
  const std::vector<std::string> new_keys{Key(), Key(), Key()};
  const v1::RootMetadata v2 = RootV(2, new_keys);
  // Both thresholds: two old keys and two new ones.
  auto rotated =
      v1.Next(Signed(kRootType, v2, {root_keys_[0], root_keys_[2], new_keys[0], new_keys[1]}));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->version(), 2u);
  // Only the new keys (a thief of the new keys alone) or only the old ones: refused.
  EXPECT_TRUE(absl::IsPermissionDenied(
      v1.Next(Signed(kRootType, v2, {new_keys[0], new_keys[1]})).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      v1.Next(Signed(kRootType, v2, {root_keys_[0], root_keys_[1]})).status()));
  // Versions that skip, repeat or go back.
  for (uint64_t version : {3u, 1u, 0u}) {
    v1::RootMetadata other = RootV(version, new_keys);
    auto refused =
        v1.Next(Signed(kRootType, other, {root_keys_[0], root_keys_[1], new_keys[0], new_keys[1]}));
    EXPECT_FALSE(refused.ok()) << version;
  }
  auto skip = v1.Next(Signed(kRootType, RootV(3, new_keys),
                             {root_keys_[0], root_keys_[1], new_keys[0], new_keys[1]}));
  EXPECT_NE(skip.status().message().find("only 2 can"), std::string::npos) << skip.status();
  // From v2 on, the old keys sign nothing.
  v1::ReleaseMetadata release = Release();
  EXPECT_TRUE(rotated->VerifyRelease(Signed(kReleaseType, release, targets_keys_), kNow).ok());
  EXPECT_FALSE(rotated->Next(Signed(kRootType, RootV(3, root_keys_), root_keys_)).ok());
}

TEST_F(TrustTest, AnExpiredRootVerifiesNothingButCanBeWalkedThrough) {
  root_.set_expires_unix_seconds(absl::ToUnixSeconds(kNow - absl::Hours(1)));
  const TrustedRoot old = Trusted();
  EXPECT_TRUE(absl::IsPermissionDenied(old.CheckFresh(kNow)));
  auto release = old.VerifyRelease(Signed(kReleaseType, Release(), targets_keys_), kNow);
  EXPECT_TRUE(absl::IsPermissionDenied(release.status()));
  EXPECT_NE(release.status().message().find("expired"), std::string::npos);
  // A device that was off for a long time walks from the expired root to the current one.
  auto next = old.Next(Signed(kRootType, RootV(2, root_keys_), root_keys_));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->CheckFresh(kNow).ok());
}

TEST_F(TrustTest, AReleaseNeedsTheTargetsThresholdAndIsCheckedWhole) {
  const TrustedRoot root = Trusted();
  const v1::ReleaseMetadata release = Release();
  auto ok = root.VerifyRelease(Signed(kReleaseType, release, targets_keys_), kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->sha256(), release.sha256());
  // Below the threshold; by root or director keys (a compromised server holds the director's).
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyRelease(Signed(kReleaseType, release, {targets_keys_[0]}), kNow).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyRelease(Signed(kReleaseType, release, {root_keys_[0], root_keys_[1]}), kNow)
          .status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyRelease(Signed(kReleaseType, release, {director_key_, Key()}), kNow).status()));
  // Expired.
  v1::ReleaseMetadata stale = release;
  stale.set_expires_unix_seconds(absl::ToUnixSeconds(kNow));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyRelease(Signed(kReleaseType, stale, targets_keys_), kNow).status()));
  // A flipped bit anywhere in the payload, or a truncated envelope.
  std::string bytes = Signed(kReleaseType, release, targets_keys_);
  v1::SignedEnvelope flipped;
  ASSERT_TRUE(flipped.ParseFromString(bytes));
  std::string* payload = flipped.mutable_payload();
  (*payload)[payload->size() / 2] ^= 0x01;
  EXPECT_FALSE(root.VerifyRelease(Bytes(flipped), kNow).ok());
  EXPECT_FALSE(root.VerifyRelease(bytes.substr(0, bytes.size() - 10), kNow).ok());
  EXPECT_FALSE(root.VerifyRelease("", kNow).ok());
  // Oversized: refused before it is parsed.
  auto huge = root.VerifyRelease(std::string(kMaxReleaseBytes + 1, 'x'), kNow);
  EXPECT_TRUE(absl::IsInvalidArgument(huge.status()));
  EXPECT_NE(huge.status().message().find("more than"), std::string::npos);
  // Well signed, but not a well-formed release.
  v1::ReleaseMetadata bad = release;
  bad.set_counter(0);
  bad.set_sha256("ABC");
  auto malformed = root.VerifyRelease(Signed(kReleaseType, bad, targets_keys_), kNow);
  EXPECT_TRUE(absl::IsInvalidArgument(malformed.status()));
  EXPECT_NE(malformed.status().message().find("counter"), std::string::npos);
  EXPECT_NE(malformed.status().message().find("sha256"), std::string::npos);
}

TEST_F(TrustTest, ADocumentOfOneTypeCannotPassAsAnother) {
  const TrustedRoot root = Trusted();
  // A downgrade authorisation's bytes re-labelled as a release: the signature covers the type.
  v1::DowngradeAuthorization d;
  d.set_name("payment-app");
  d.set_to_counter(3);
  d.set_to_sha256(Sha256Hex("x"));
  d.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(1)));
  v1::SignedEnvelope e = *SignDocument(kDowngradeType, d, targets_keys_);
  EXPECT_TRUE(root.VerifyDowngrade(Bytes(e), kNow).ok());
  auto as_release = root.VerifyRelease(Bytes(e), kNow);
  EXPECT_NE(as_release.status().message().find("expected a release"), std::string::npos);
  e.set_payload_type(std::string(kReleaseType));
  EXPECT_TRUE(absl::IsPermissionDenied(root.VerifyRelease(Bytes(e), kNow).status()));
}

TEST_F(TrustTest, AnAssignmentNeedsTheDirectorKeyAndIsShortLived) {
  const TrustedRoot root = Trusted();
  const v1::Assignment a = AssignmentOf(Release());
  EXPECT_TRUE(root.VerifyAssignment(Signed(kAssignmentType, a, {director_key_}), kNow).ok());
  // Targets keys sign releases, not assignments.
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyAssignment(Signed(kAssignmentType, a, targets_keys_), kNow).status()));
  v1::Assignment expired = a;
  expired.set_expires_unix_seconds(absl::ToUnixSeconds(kNow - absl::Seconds(1)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyAssignment(Signed(kAssignmentType, expired, {director_key_}), kNow).status()));
  v1::Assignment future = a;
  future.set_issue_unix_seconds(absl::ToUnixSeconds(kNow + absl::Minutes(30)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyAssignment(Signed(kAssignmentType, future, {director_key_}), kNow).status()));
  v1::Assignment forever = a;
  forever.set_expires_unix_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24 * 30)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      root.VerifyAssignment(Signed(kAssignmentType, forever, {director_key_}), kNow).status()));
}

TEST_F(TrustTest, AReleaseInstallsOnlyWhereItsAssignmentAgreesAndGoesForward) {
  const v1::ReleaseMetadata r = Release(7);
  const v1::Assignment a = AssignmentOf(r);
  const Device device{"trm_1", "PAX/A920", 6};
  EXPECT_TRUE(CheckInstallable(a, r, device, nullptr).ok());
  // Mix and match: an assignment of one release with the metadata of another.
  auto with = [&](auto mutate) {
    v1::Assignment changed = a;
    mutate(changed);
    return CheckInstallable(changed, r, device, nullptr);
  };
  EXPECT_NE(with([](v1::Assignment& x) { x.set_release_name("os-image"); }).message().find("name"),
            std::string::npos);
  EXPECT_NE(with([](v1::Assignment& x) { x.set_release_counter(8); }).message().find("counter"),
            std::string::npos);
  EXPECT_NE(with([](v1::Assignment& x) { x.set_length(1); }).message().find("length"),
            std::string::npos);
  EXPECT_NE(
      with([](v1::Assignment& x) { x.set_sha256(Sha256Hex("other")); }).message().find("hash"),
      std::string::npos);
  EXPECT_FALSE(with([](v1::Assignment& x) { x.set_terminal_id("trm_2"); }).ok());
  // The wrong hardware: the assignment's, or a release not built for this model.
  EXPECT_FALSE(CheckInstallable(a, r, {"trm_1", "PAX/A80", 6}, nullptr).ok());
  v1::ReleaseMetadata other_model = r;
  other_model.clear_hardware_models();
  other_model.add_hardware_models("Verifone/V400m");
  auto wrong = CheckInstallable(a, other_model, device, nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong));
  EXPECT_NE(wrong.message().find("not built for a PAX/A920"), std::string::npos);
  // The same counter again, and going back.
  EXPECT_FALSE(CheckInstallable(a, r, {"trm_1", "PAX/A920", 7}, nullptr).ok());
  const Device newer{"trm_1", "PAX/A920", 9};
  auto back = CheckInstallable(a, r, newer, nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(back));
  EXPECT_NE(back.message().find("needs a downgrade authorisation"), std::string::npos);
  v1::DowngradeAuthorization allow;
  allow.set_name(r.name());
  allow.set_to_counter(r.counter());
  allow.set_to_sha256(r.sha256());
  EXPECT_TRUE(CheckInstallable(a, r, newer, &allow).ok());
  v1::DowngradeAuthorization for_other = allow;
  for_other.set_to_sha256(Sha256Hex("another build"));
  EXPECT_FALSE(CheckInstallable(a, r, newer, &for_other).ok());
}

TEST_F(TrustTest, AnOlderAssignmentCannotReplaceANewerOne) {
  const v1::Assignment held = AssignmentOf(Release(7));
  v1::Assignment older = AssignmentOf(Release(6));
  older.set_issue_unix_seconds(held.issue_unix_seconds() - 60);
  EXPECT_TRUE(absl::IsPermissionDenied(CheckNewer(held, older)));
  EXPECT_TRUE(CheckNewer(held, held).ok());  // the same one seen again
  v1::Assignment same_second = AssignmentOf(Release(6));
  EXPECT_FALSE(CheckNewer(held, same_second).ok());
  v1::Assignment newer = AssignmentOf(Release(8));
  newer.set_issue_unix_seconds(held.issue_unix_seconds() + 1);
  EXPECT_TRUE(CheckNewer(held, newer).ok());
}

}  // namespace
}  // namespace posfleet::trust

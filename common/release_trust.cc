#include "common/release_trust.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/signing.h"
#include "common/status_macros.h"

namespace posfleet::trust {
namespace {

constexpr absl::string_view kDomain = "posfleet-signed-v1";

absl::Status Refused(absl::string_view what) {
  return absl::PermissionDeniedError(std::string(what));
}

absl::StatusOr<signing::PublicKey> ToSigningKey(const v1::PublicKey& key) {
  switch (key.scheme()) {
    case v1::PublicKey::ECDSA_P256_SHA256:
      return signing::PublicKey{signing::Scheme::kEcdsaP256Sha256, key.spki_der()};
    case v1::PublicKey::ED25519:
      return signing::PublicKey{signing::Scheme::kEd25519, key.spki_der()};
    default:
      return absl::InvalidArgumentError("unknown key scheme");
  }
}

absl::Status CheckRole(const v1::RootMetadata& root, const v1::KeyRole& role,
                       absl::string_view name) {
  if (role.threshold() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("root: the ", name, " threshold is 0"));
  }
  std::set<std::string> ids;
  for (const std::string& id : role.key_ids()) {
    if (!ids.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("root: key ", id, " is listed twice for ", name));
    }
    if (root.keys().count(id) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("root: ", name, " names key ", id, ", which the root does not hold"));
    }
  }
  if (role.threshold() > ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "root: the ", name, " threshold ", role.threshold(), " exceeds its ", ids.size(), " keys"));
  }
  return absl::OkStatus();
}

// A root's own form: every key's id is the hash of that very key, every role has a threshold
// its keys can meet, the version and expiry are set.
absl::Status CheckRootFields(const v1::RootMetadata& root) {
  if (root.version() == 0) return absl::InvalidArgumentError("root: version 0");
  if (root.expires_unix_seconds() <= 0) return absl::InvalidArgumentError("root: no expiry");
  if (root.keys_size() > kMaxRootKeys) {
    return absl::InvalidArgumentError(absl::StrCat("root: more than ", kMaxRootKeys, " keys"));
  }
  for (const auto& [id, key] : root.keys()) {
    ASSIGN_OR_RETURN(signing::PublicKey k, ToSigningKey(key));
    if (absl::Status s = signing::CheckPublicKey(k); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("root: key ", id, ": ", s.message()));
    }
    if (signing::KeyId(k) != id) {
      return absl::InvalidArgumentError(
          absl::StrCat("root: key id ", id, " is not the id of its key"));
    }
  }
  RETURN_IF_ERROR(CheckRole(root, root.root(), "root"));
  RETURN_IF_ERROR(CheckRole(root, root.targets(), "targets"));
  RETURN_IF_ERROR(CheckRole(root, root.director(), "director"));
  return absl::OkStatus();
}

absl::StatusOr<v1::SignedEnvelope> ParseEnvelope(absl::string_view bytes, absl::string_view type,
                                                 size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(type, ": ", bytes.size(), " bytes, more than the ", max_bytes, " allowed"));
  }
  v1::SignedEnvelope envelope;
  if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(type, ": not a signed envelope"));
  }
  if (envelope.payload_type() != type) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a ", type, " document, got \"", envelope.payload_type(), "\""));
  }
  if (envelope.signatures_size() > kMaxSignatures) {
    return absl::InvalidArgumentError(
        absl::StrCat(type, ": more than ", kMaxSignatures, " signatures"));
  }
  return envelope;
}

// OK if at least `role.threshold` distinct keys of `role`, held by `keys_of`, signed `envelope`.
// A key counts once, however many of its signatures the envelope carries.
absl::Status CheckThreshold(const v1::SignedEnvelope& envelope, const v1::RootMetadata& keys_of,
                            const v1::KeyRole& role, absl::string_view what) {
  const std::set<std::string> allowed(role.key_ids().begin(), role.key_ids().end());
  const std::string input = SigningInput(envelope.payload_type(), envelope.payload());
  std::set<std::string> counted;
  for (const v1::Signature& sig : envelope.signatures()) {
    if (allowed.count(sig.key_id()) == 0 || counted.count(sig.key_id()) > 0) continue;
    auto key = keys_of.keys().find(sig.key_id());
    if (key == keys_of.keys().end()) continue;
    absl::StatusOr<signing::PublicKey> k = ToSigningKey(key->second);
    if (k.ok() && signing::Verify(*k, input, sig.signature())) counted.insert(sig.key_id());
  }
  if (role.threshold() == 0 || counted.size() < role.threshold()) {
    return Refused(absl::StrCat(what, ": signed by ", counted.size(), " of the ", role.threshold(),
                                " keys it needs"));
  }
  return absl::OkStatus();
}

absl::Status CheckUnexpired(absl::string_view what, int64_t expires_unix_seconds, absl::Time now) {
  if (expires_unix_seconds <= 0)
    return absl::InvalidArgumentError(absl::StrCat(what, ": no expiry"));
  const absl::Time expires = absl::FromUnixSeconds(expires_unix_seconds);
  if (!(now < expires)) {
    return Refused(absl::StrCat(what, " expired at ",
                                absl::FormatTime(absl::RFC3339_sec, expires, absl::UTCTimeZone())));
  }
  return absl::OkStatus();
}

template <typename Message>
absl::StatusOr<Message> ParsePayload(const std::string& payload, absl::string_view type) {
  Message m;
  if (!m.ParseFromString(payload)) {
    return absl::InvalidArgumentError(absl::StrCat(type, ": unreadable"));
  }
  return m;
}

}  // namespace

std::string SigningInput(absl::string_view payload_type, absl::string_view payload) {
  std::string out;
  out.reserve(kDomain.size() + payload_type.size() + payload.size() + 2);
  absl::StrAppend(&out, kDomain, absl::string_view("\0", 1), payload_type,
                  absl::string_view("\0", 1), payload);
  return out;
}

absl::StatusOr<v1::SignedEnvelope> SignDocument(absl::string_view payload_type,
                                                const google::protobuf::MessageLite& doc,
                                                const std::vector<std::string>& private_pems) {
  v1::SignedEnvelope envelope;
  envelope.set_payload_type(std::string(payload_type));
  envelope.set_payload(doc.SerializeAsString());
  for (const std::string& pem : private_pems) RETURN_IF_ERROR(AddSignature(envelope, pem));
  return envelope;
}

absl::Status AddSignature(v1::SignedEnvelope& envelope, absl::string_view private_pem) {
  ASSIGN_OR_RETURN(NamedKey named, NameKey(private_pem));
  ASSIGN_OR_RETURN(
      std::string signature,
      signing::Sign(private_pem, SigningInput(envelope.payload_type(), envelope.payload())));
  v1::Signature* sig = envelope.add_signatures();
  sig->set_key_id(named.id);
  sig->set_signature(std::move(signature));
  return absl::OkStatus();
}

namespace {

NamedKey Named(const signing::PublicKey& key) {
  NamedKey out;
  out.id = signing::KeyId(key);
  out.key.set_scheme(key.scheme == signing::Scheme::kEd25519 ? v1::PublicKey::ED25519
                                                             : v1::PublicKey::ECDSA_P256_SHA256);
  out.key.set_spki_der(key.spki_der);
  return out;
}

}  // namespace

absl::StatusOr<NamedKey> NameKey(absl::string_view private_pem) {
  ASSIGN_OR_RETURN(signing::PublicKey key, signing::PublicKeyOf(private_pem));
  return Named(key);
}

absl::StatusOr<NamedKey> NamePublicKey(absl::string_view public_pem) {
  ASSIGN_OR_RETURN(signing::PublicKey key, signing::PublicKeyFromPem(public_pem));
  return Named(key);
}

absl::StatusOr<ImageDigest> DigestImage(std::istream& in, uint32_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size: ", kMinChunkSize, " to ", kMaxChunkSize, " bytes"));
  }
  Sha256 whole;
  Sha256 chunk_list;
  ImageDigest out;
  std::string buffer(chunk_size, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    const absl::string_view chunk(buffer.data(), n);
    whole.Update(chunk);
    chunk_list.Update(Sha256::Of(chunk));
    out.length += n;
    ++out.chunks;
  }
  if (in.bad()) return absl::DataLossError("the image could not be read to its end");
  if (out.length == 0) return absl::InvalidArgumentError("the image is empty");
  out.sha256 = HexOf(whole.Finish());
  out.chunks_sha256 = HexOf(chunk_list.Finish());
  return out;
}

absl::Status CheckReleaseFields(const v1::ReleaseMetadata& r) {
  std::vector<std::string> wrong;
  if (r.name().empty() || r.name().size() > 64) wrong.push_back("name: 1 to 64 characters");
  if (r.version().empty() || r.version().size() > 64) {
    wrong.push_back("version: 1 to 64 characters");
  }
  if (r.counter() == 0) wrong.push_back("counter: must be above 0");
  if (r.length() == 0) wrong.push_back("length: must be above 0");
  if (!IsSha256Hex(r.sha256())) wrong.push_back("sha256: 64 lowercase hex digits");
  if (!IsSha256Hex(r.chunks_sha256())) wrong.push_back("chunks_sha256: 64 lowercase hex digits");
  if (r.chunk_size() < kMinChunkSize || r.chunk_size() > kMaxChunkSize) {
    wrong.push_back(absl::StrCat("chunk_size: ", kMinChunkSize, " to ", kMaxChunkSize));
  }
  if (r.hardware_models_size() == 0 || r.hardware_models_size() > kMaxHardwareModels) {
    wrong.push_back(absl::StrCat("hardware_models: 1 to ", kMaxHardwareModels));
  }
  static const std::set<std::string> kKinds = {"app", "os", "firmware", "keys", "media"};
  if (kKinds.count(r.kind()) == 0) wrong.push_back("kind: app, os, firmware, keys or media");
  if (r.expires_unix_seconds() <= 0) wrong.push_back("expires: required");
  if (!wrong.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("release: ", absl::StrJoin(wrong, "; ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrustedRoot> TrustedRoot::FromAnchor(absl::string_view envelope_bytes) {
  ASSIGN_OR_RETURN(v1::SignedEnvelope envelope,
                   ParseEnvelope(envelope_bytes, kRootType, kMaxRootBytes));
  ASSIGN_OR_RETURN(v1::RootMetadata root,
                   ParsePayload<v1::RootMetadata>(envelope.payload(), kRootType));
  RETURN_IF_ERROR(CheckRootFields(root));
  RETURN_IF_ERROR(
      CheckThreshold(envelope, root, root.root(), absl::StrCat("root version ", root.version())));
  return TrustedRoot(std::move(root), std::string(envelope_bytes));
}

absl::StatusOr<TrustedRoot> TrustedRoot::Next(absl::string_view envelope_bytes) const {
  ASSIGN_OR_RETURN(v1::SignedEnvelope envelope,
                   ParseEnvelope(envelope_bytes, kRootType, kMaxRootBytes));
  ASSIGN_OR_RETURN(v1::RootMetadata next,
                   ParsePayload<v1::RootMetadata>(envelope.payload(), kRootType));
  if (next.version() != root_.version() + 1) {
    return Refused(absl::StrCat("root version ", next.version(), " cannot follow version ",
                                root_.version(), ": only ", root_.version() + 1, " can"));
  }
  RETURN_IF_ERROR(CheckRootFields(next));
  const std::string what = absl::StrCat("root version ", next.version());
  RETURN_IF_ERROR(
      CheckThreshold(envelope, root_, root_.root(),
                     absl::StrCat(what, " (by the keys of version ", root_.version(), ")")));
  RETURN_IF_ERROR(
      CheckThreshold(envelope, next, next.root(), absl::StrCat(what, " (by its own keys)")));
  return TrustedRoot(std::move(next), std::string(envelope_bytes));
}

absl::Status TrustedRoot::CheckFresh(absl::Time now) const {
  return CheckUnexpired(absl::StrCat("root version ", root_.version()),
                        root_.expires_unix_seconds(), now);
}

absl::StatusOr<std::string> TrustedRoot::SignedPayload(absl::string_view envelope_bytes,
                                                       absl::string_view type, size_t max_bytes,
                                                       const v1::KeyRole& role,
                                                       absl::string_view role_name) const {
  ASSIGN_OR_RETURN(v1::SignedEnvelope envelope, ParseEnvelope(envelope_bytes, type, max_bytes));
  RETURN_IF_ERROR(
      CheckThreshold(envelope, root_, role, absl::StrCat(type, " (", role_name, " keys)")));
  return std::move(*envelope.mutable_payload());
}

absl::StatusOr<v1::ReleaseMetadata> TrustedRoot::VerifyRelease(absl::string_view envelope_bytes,
                                                               absl::Time now) const {
  RETURN_IF_ERROR(CheckFresh(now));
  ASSIGN_OR_RETURN(
      std::string payload,
      SignedPayload(envelope_bytes, kReleaseType, kMaxReleaseBytes, root_.targets(), "targets"));
  ASSIGN_OR_RETURN(v1::ReleaseMetadata release,
                   ParsePayload<v1::ReleaseMetadata>(payload, kReleaseType));
  RETURN_IF_ERROR(CheckReleaseFields(release));
  RETURN_IF_ERROR(CheckUnexpired(absl::StrCat("release ", release.name(), " ", release.version()),
                                 release.expires_unix_seconds(), now));
  return release;
}

absl::StatusOr<v1::DowngradeAuthorization> TrustedRoot::VerifyDowngrade(
    absl::string_view envelope_bytes, absl::Time now) const {
  RETURN_IF_ERROR(CheckFresh(now));
  ASSIGN_OR_RETURN(std::string payload, SignedPayload(envelope_bytes, kDowngradeType,
                                                      kMaxSmallBytes, root_.targets(), "targets"));
  ASSIGN_OR_RETURN(v1::DowngradeAuthorization d,
                   ParsePayload<v1::DowngradeAuthorization>(payload, kDowngradeType));
  if (d.name().empty() || d.to_counter() == 0 || !IsSha256Hex(d.to_sha256())) {
    return absl::InvalidArgumentError("downgrade: a name, counter and sha256 are required");
  }
  RETURN_IF_ERROR(CheckUnexpired("downgrade authorisation", d.expires_unix_seconds(), now));
  return d;
}

absl::StatusOr<v1::Assignment> TrustedRoot::VerifyAssignment(absl::string_view envelope_bytes,
                                                             absl::Time now) const {
  RETURN_IF_ERROR(CheckFresh(now));
  ASSIGN_OR_RETURN(
      std::string payload,
      SignedPayload(envelope_bytes, kAssignmentType, kMaxSmallBytes, root_.director(), "director"));
  ASSIGN_OR_RETURN(v1::Assignment a, ParsePayload<v1::Assignment>(payload, kAssignmentType));
  if (a.terminal_id().empty() || a.release_name().empty() || a.release_counter() == 0 ||
      !IsSha256Hex(a.sha256()) || a.length() == 0) {
    return absl::InvalidArgumentError(
        "assignment: a terminal, release name, counter, length and sha256 are required");
  }
  RETURN_IF_ERROR(CheckUnexpired("assignment", a.expires_unix_seconds(), now));
  const absl::Time issued = absl::FromUnixSeconds(a.issue_unix_seconds());
  if (issued > now + kClockSkew) {
    return Refused(absl::StrCat("assignment issued in the future, at ",
                                absl::FormatTime(absl::RFC3339_sec, issued, absl::UTCTimeZone())));
  }
  if (absl::FromUnixSeconds(a.expires_unix_seconds()) - issued > kMaxAssignmentLifetime) {
    return Refused(absl::StrCat("assignment lives longer than ",
                                absl::FormatDuration(kMaxAssignmentLifetime)));
  }
  return a;
}

absl::Status CheckInstallable(const v1::Assignment& a, const v1::ReleaseMetadata& r,
                              const Device& device, const v1::DowngradeAuthorization* downgrade) {
  auto disagree = [](absl::string_view what, const auto& assigned, const auto& released) {
    return absl::FailedPreconditionError(absl::StrCat("the assignment and the release disagree on ",
                                                      what, ": ", assigned, " against ", released));
  };
  if (a.terminal_id() != device.terminal_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the assignment is for terminal ", a.terminal_id(), ", not this one"));
  }
  if (a.release_name() != r.name()) return disagree("the name", a.release_name(), r.name());
  if (a.release_counter() != r.counter()) {
    return disagree("the counter", a.release_counter(), r.counter());
  }
  if (a.length() != r.length()) return disagree("the length", a.length(), r.length());
  if (a.sha256() != r.sha256()) return disagree("the hash", a.sha256(), r.sha256());
  if (a.hardware_model() != device.hardware_model) {
    return absl::FailedPreconditionError(absl::StrCat("the assignment is for a ",
                                                      a.hardware_model(), ", this terminal is a ",
                                                      device.hardware_model));
  }
  bool built_for = false;
  for (const std::string& model : r.hardware_models()) built_for |= model == device.hardware_model;
  if (!built_for) {
    return absl::FailedPreconditionError(absl::StrCat(
        "release ", r.name(), " ", r.version(), " is not built for a ", device.hardware_model));
  }
  if (r.counter() > device.installed_counter) return absl::OkStatus();
  if (r.counter() == device.installed_counter) {
    return absl::FailedPreconditionError(
        absl::StrCat("release counter ", r.counter(), " of ", r.name(), " is installed already"));
  }
  if (downgrade == nullptr || downgrade->name() != r.name() ||
      downgrade->to_counter() != r.counter() || downgrade->to_sha256() != r.sha256()) {
    return absl::FailedPreconditionError(
        absl::StrCat("going back from counter ", device.installed_counter, " to ", r.counter(),
                     " of ", r.name(), " needs a downgrade authorisation for this release"));
  }
  return absl::OkStatus();
}

absl::Status CheckNewer(const v1::Assignment& held, const v1::Assignment& offered) {
  // The same assignment again (a retained message seen twice) is not a replay of an older one.
  if (offered.SerializeAsString() == held.SerializeAsString()) return absl::OkStatus();
  if (offered.issue_unix_seconds() <= held.issue_unix_seconds()) {
    return Refused(absl::StrCat(
        "assignment issued at ",
        absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(offered.issue_unix_seconds()),
                         absl::UTCTimeZone()),
        " is not newer than the one held"));
  }
  return absl::OkStatus();
}

}  // namespace posfleet::trust

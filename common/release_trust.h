#pragma once

// The trust rules for software (issue 18, docs/software.md), shared by the offline signer, the
// server and the agent. TUF and Uptane are the model: an offline root names the keys and
// thresholds; releases and downgrade authorisations are signed offline by a threshold of
// "targets" keys; the server's online "director" key signs only short-lived per-terminal
// assignments; a terminal installs only when an assignment and a release agree.
//
// The checks here are where real TUF clients went wrong, so each is explicit: a key's id is
// computed from the key, never taken from the document, and one key counts once however often
// it signs or is listed; a threshold of 0 is no threshold; a root is replaced only by the very
// next version, signed by the old and the new threshold; nothing is returned (to be kept) before
// every check on it passed; sizes are bounded before anything is parsed.

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "posfleet/v1/release.pb.h"

namespace posfleet::trust {

inline constexpr absl::string_view kRootType = "root";
inline constexpr absl::string_view kReleaseType = "release";
inline constexpr absl::string_view kDowngradeType = "downgrade";
inline constexpr absl::string_view kAssignmentType = "assignment";

// Size limits of signed envelopes, checked before parsing.
inline constexpr size_t kMaxRootBytes = 64 << 10;
inline constexpr size_t kMaxReleaseBytes = 16 << 10;
inline constexpr size_t kMaxSmallBytes = 4 << 10;  // assignments, downgrade authorisations
inline constexpr int kMaxSignatures = 16;
inline constexpr int kMaxRootKeys = 32;
inline constexpr int kMaxHardwareModels = 64;
// An assignment may live at most this long: freshness against a server that is frozen or
// replays old assignments.
inline constexpr absl::Duration kMaxAssignmentLifetime = absl::Hours(24 * 7);
// Clocks of terminals are not exact: an assignment issued this much "in the future" is taken.
inline constexpr absl::Duration kClockSkew = absl::Minutes(5);
// Chunk sizes a release may use.
inline constexpr uint32_t kMinChunkSize = 16 << 10;
inline constexpr uint32_t kMaxChunkSize = 16 << 20;

// What a signature covers: "posfleet-signed-v1" 0x00 type 0x00 payload.
std::string SigningInput(absl::string_view payload_type, absl::string_view payload);

// `doc` serialized once into an envelope of `payload_type`, signed by every key of
// `private_pems` (PEM, ECDSA P-256 or Ed25519).
absl::StatusOr<v1::SignedEnvelope> SignDocument(absl::string_view payload_type,
                                                const google::protobuf::MessageLite& doc,
                                                const std::vector<std::string>& private_pems);
// Adds one more signature to `envelope` (a second signer of a threshold, offline).
absl::Status AddSignature(v1::SignedEnvelope& envelope, absl::string_view private_pem);

// The public key of a PEM private key as a root lists it, and its id.
struct NamedKey {
  std::string id;
  v1::PublicKey key;
};
absl::StatusOr<NamedKey> NameKey(absl::string_view private_pem);

// What a release's metadata says of its image, computed by reading it once.
struct ImageDigest {
  uint64_t length = 0;
  std::string sha256;         // of the image
  std::string chunks_sha256;  // over the chunks' 32-byte digests, in order
  uint64_t chunks = 0;
};
// Reads `in` to its end in chunks of `chunk_size` (kMinChunkSize..kMaxChunkSize).
absl::StatusOr<ImageDigest> DigestImage(std::istream& in, uint32_t chunk_size);

// A public key entry from a PEM public or private key, or a key id from a public key.
absl::StatusOr<NamedKey> NamePublicKey(absl::string_view public_pem);

// A release's fields as the signer and the server require them: a name and version, counter and
// length above 0, hashes of 64 lowercase hex digits, a chunk size within the limits, at least
// one hardware model, a known kind and an expiry.
absl::Status CheckReleaseFields(const v1::ReleaseMetadata& release);

// A root that was verified. Copyable; the bytes it was read from are kept, to be stored.
class TrustedRoot {
 public:
  // A root taken on trust: provisioned on the device (preferred) or received over TLS at
  // enrolment. It must be well formed and signed by a threshold of its own root keys. Expiry is
  // not checked here: see CheckFresh.
  static absl::StatusOr<TrustedRoot> FromAnchor(absl::string_view envelope_bytes);

  // The root that replaces this one: exactly the next version, signed by a threshold of this
  // root's root keys and of its own. Expiry is not checked: a device that was off for a year
  // walks through expired roots to the current one, then calls CheckFresh on the last.
  absl::StatusOr<TrustedRoot> Next(absl::string_view envelope_bytes) const;

  // OK unless this root expired at `now`. Every Verify below requires it.
  absl::Status CheckFresh(absl::Time now) const;

  // Verified documents; each also requires a fresh root and an unexpired document.
  absl::StatusOr<v1::ReleaseMetadata> VerifyRelease(absl::string_view envelope_bytes,
                                                    absl::Time now) const;
  absl::StatusOr<v1::DowngradeAuthorization> VerifyDowngrade(absl::string_view envelope_bytes,
                                                             absl::Time now) const;
  // Also refuses one issued after now (beyond kClockSkew) or living longer than
  // kMaxAssignmentLifetime.
  absl::StatusOr<v1::Assignment> VerifyAssignment(absl::string_view envelope_bytes,
                                                  absl::Time now) const;

  uint64_t version() const { return root_.version(); }
  absl::Time expires() const { return absl::FromUnixSeconds(root_.expires_unix_seconds()); }
  const v1::RootMetadata& metadata() const { return root_; }
  const std::string& envelope_bytes() const { return bytes_; }

 private:
  TrustedRoot(v1::RootMetadata root, std::string bytes)
      : root_(std::move(root)), bytes_(std::move(bytes)) {}
  // The payload of an envelope of `type` signed by a threshold of `role`.
  absl::StatusOr<std::string> SignedPayload(absl::string_view envelope_bytes,
                                            absl::string_view type, size_t max_bytes,
                                            const v1::KeyRole& role,
                                            absl::string_view role_name) const;

  v1::RootMetadata root_;
  std::string bytes_;
};

// What a terminal knows of itself when it decides to install.
struct Device {
  std::string terminal_id;
  std::string hardware_model;      // "vendor/model"
  uint64_t installed_counter = 0;  // of the release's name; 0: none installed
};

// OK if `release` may be installed on `device` as `assignment` says: the assignment is this
// terminal's and names exactly this release (name, counter, length, hash), the release is built
// for the terminal's model, and the counter goes forward, or back only with a `downgrade`
// (verified, may be null) for exactly this release. FailedPrecondition naming the first
// disagreement otherwise; the caller keeps what it runs.
absl::Status CheckInstallable(const v1::Assignment& assignment, const v1::ReleaseMetadata& release,
                              const Device& device, const v1::DowngradeAuthorization* downgrade);

// OK if `offered` may replace the assignment a terminal holds: issued later, or the very same
// one seen again (an older one replayed is refused).
absl::Status CheckNewer(const v1::Assignment& held, const v1::Assignment& offered);

}  // namespace posfleet::trust

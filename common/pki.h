#pragma once

// The fleet's X.509 plumbing on OpenSSL 3: a CA, keys and CSRs for agents, certificates signed
// from CSRs, and revocation lists. Keys are ECDSA P-256 (small and fast on terminals). PEM in and
// out; no OpenSSL type crosses this interface.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace posfleet::pki {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// A new private key, PEM (PKCS#8).
absl::StatusOr<std::string> NewPrivateKey();

// A self-signed CA certificate (and its new key), valid from now for `validity`.
absl::StatusOr<CertAndKey> CreateCa(const std::string& common_name, absl::Duration validity);

// A certificate signing request for `key_pem` with subject CN `common_name`.
absl::StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name);

// The subject CN of a CSR, after checking that the CSR is signed by its own key (proof that the
// requester holds the private key). InvalidArgument for anything malformed or badly signed.
absl::StatusOr<std::string> CsrCommonName(const std::string& csr_pem);

struct Issued {
  std::string cert_pem;
  std::string serial;  // lowercase hex
  absl::Time not_after;
  std::string public_key_sha256;  // of the DER SubjectPublicKeyInfo, lowercase hex
};

// SHA-256 (hex) of the public key of a PEM private key, as in Issued.
absl::StatusOr<std::string> KeyPublicSha256(const std::string& key_pem);

// SHA-256 (hex) of the public key in a CSR (checked as in CsrCommonName).
absl::StatusOr<std::string> CsrPublicKeySha256(const std::string& csr_pem);

enum class Usage { kClient, kServer };

// Signs the public key of `csr_pem` (checked as in CsrCommonName) with `ca`. The subject CN is
// `common_name`, chosen by the signer, whatever the CSR asked for. Client certificates are for
// clientAuth only; server certificates for serverAuth only (so the broker's own certificate
// cannot log in to the broker as a client) and carry `sans` (DNS names, or IP addresses written
// as such).
//
// The certificate is valid from five minutes ago (clock skew), or from `not_before` when that is
// later: a renewed terminal certificate starts strictly after the one it replaces, which is how
// the broker tells the newer of two live certificates (broker/access_rules.h).
absl::StatusOr<Issued> SignCsr(const CertAndKey& ca, const std::string& csr_pem,
                               const std::string& common_name, absl::Duration validity, Usage usage,
                               const std::vector<std::string>& sans = {},
                               absl::Time not_before = absl::InfinitePast());

struct CertInfo {
  std::string common_name;
  std::string serial;  // lowercase hex
  absl::Time not_before;
  absl::Time not_after;
  std::string public_key_sha256;  // as in Issued
};

// Parses a certificate; if `ca_cert_pem` is given, also verifies that the CA signed it.
absl::StatusOr<CertInfo> InspectCert(const std::string& cert_pem,
                                     const std::string& ca_cert_pem = "");

// The DER bytes of every certificate in a PEM bundle, in order; an error if there is none or a
// block does not parse. For comparing certificates by value.
absl::StatusOr<std::vector<std::string>> CertificatesDer(const std::string& pem_bundle);

// An ECDSA (SHA-256) signature of `data` with `key_pem`, DER-encoded: proof that the signer holds
// the key, e.g. the key of the certificate a terminal renews.
absl::StatusOr<std::string> SignData(const std::string& key_pem, absl::string_view data);

// Checks `signature` (as made by SignData) over `data` against the public key in `cert_pem`.
// InvalidArgument when the certificate is unreadable or the signature does not match.
absl::Status VerifyData(const std::string& cert_pem, absl::string_view data,
                        absl::string_view signature);

struct Revoked {
  std::string serial;  // lowercase hex
  absl::Time time;
};

// A CRL signed by `ca` listing `revoked`, valid until now + `next_update`.
absl::StatusOr<std::string> MakeCrl(const CertAndKey& ca, const std::vector<Revoked>& revoked,
                                    absl::Duration next_update);

}  // namespace posfleet::pki

#include "common/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/openssl_ptr.h"

namespace posfleet::pki {
namespace {

using ossl::Bio;
using ossl::Deleter;
using ossl::Key;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Crl = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// The last OpenSSL error as text (and the queue cleared).
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

absl::Status Fail(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslError()));
}

absl::Status Bad(absl::string_view what) {
  ERR_clear_error();
  return absl::InvalidArgumentError(std::string(what));
}

Bio MemBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

template <typename Write>
std::string ToPem(Write write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!write(bio.get())) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Key ReadKey(const std::string& pem) {
  Bio bio = MemBio(pem);
  return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Cert ReadCert(const std::string& pem) {
  Bio bio = MemBio(pem);
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string KeyPem(EVP_PKEY* key) {
  return ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

std::string CertPem(X509* cert) {
  return ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert) == 1; });
}

std::string CommonNameOf(X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

bool SetCommonName(X509_NAME* name, const std::string& cn) {
  return X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                    0) == 1;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  Bn bn(ASN1_INTEGER_to_BN(serial, nullptr));
  char* hex = BN_bn2hex(bn.get());
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  return out;
}

absl::Time TimeOf(const ASN1_TIME* t) {
  struct tm tm {};
  ASN1_TIME_to_tm(t, &tm);
  return absl::FromUnixSeconds(timegm(&tm));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A new certificate with a random 127-bit serial and the validity window [now - 5 min, now + v]
// (the small backdating tolerates terminals whose clocks run slightly behind).
Cert NewCert(absl::Duration validity) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  bytes[0] &= 0x7f;
  Bn bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(validity));
  return cert;
}

absl::StatusOr<Req> ReadCheckedCsr(const std::string& csr_pem) {
  if (csr_pem.size() > 16384) return Bad("csr: larger than 16 KiB");
  Bio bio = MemBio(csr_pem);
  Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return Bad("csr: not a PEM certificate signing request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return Bad("csr: has no public key");
  if (X509_REQ_verify(req.get(), key) != 1) return Bad("csr: signature does not match its key");
  // Exactly what docs/api.md promises and the broker accepts: ECDSA on the named curve P-256.
  // Other curves (P-384, secp256k1, brainpool, binary ones) and explicit curve parameters are
  // refused here, before an activation code is spent on a certificate the broker would refuse.
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1" ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, group, sizeof(group),
                                     &group_len) != 1 ||
      std::string_view(group, group_len) != OSSL_PKEY_EC_ENCODING_GROUP) {
    ERR_clear_error();
    return Bad("csr: key must be ECDSA on the named curve P-256 (prime256v1)");
  }
  return req;
}

std::string PublicKeySha256(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return "";
  std::string hash = Sha256Hex(absl::string_view(reinterpret_cast<char*>(der), len));
  OPENSSL_free(der);
  return hash;
}

}  // namespace

absl::StatusOr<std::string> CsrPublicKeySha256(const std::string& csr_pem) {
  auto req = ReadCheckedCsr(csr_pem);
  if (!req.ok()) return req.status();
  return PublicKeySha256(X509_REQ_get0_pubkey(req->get()));
}

absl::StatusOr<std::string> KeyPublicSha256(const std::string& key_pem) {
  Key key = ReadKey(key_pem);
  if (!key) return Bad("key: not a PEM private key");
  return PublicKeySha256(key.get());
}

absl::StatusOr<std::string> NewPrivateKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Fail("generating a key");
  return KeyPem(key.get());
}

absl::StatusOr<CertAndKey> CreateCa(const std::string& common_name, absl::Duration validity) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Fail("generating the CA key");
  Cert cert = NewCert(validity);
  X509_set_pubkey(cert.get(), key.get());
  if (!SetCommonName(X509_get_subject_name(cert.get()), common_name)) return Fail("CA subject");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (!AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash")) {
    return Fail("CA extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Fail("signing the CA");
  return CertAndKey{CertPem(cert.get()), KeyPem(key.get())};
}

absl::StatusOr<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name) {
  Key key = ReadKey(key_pem);
  if (!key) return Bad("key: not a PEM private key");
  Req req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  if (!SetCommonName(X509_REQ_get_subject_name(req.get()), common_name)) return Fail("subject");
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) return Fail("signing the CSR");
  return ToPem([&](BIO* b) { return PEM_write_bio_X509_REQ(b, req.get()) == 1; });
}

absl::StatusOr<std::string> CsrCommonName(const std::string& csr_pem) {
  auto req = ReadCheckedCsr(csr_pem);
  if (!req.ok()) return req.status();
  return CommonNameOf(X509_REQ_get_subject_name(req->get()));
}

absl::StatusOr<Issued> SignCsr(const CertAndKey& ca, const std::string& csr_pem,
                               const std::string& common_name, absl::Duration validity, Usage usage,
                               const std::vector<std::string>& sans, absl::Time not_before) {
  auto req = ReadCheckedCsr(csr_pem);
  if (!req.ok()) return req.status();
  Cert ca_cert = ReadCert(ca.cert_pem);
  Key ca_key = ReadKey(ca.key_pem);
  if (!ca_cert || !ca_key) return absl::FailedPreconditionError("the fleet CA is unreadable");
  Cert cert = NewCert(validity);
  // Both bounds from one reading of one clock. NewCert's X509_gmtime_adj reads time(), which may
  // lag absl::Now() by a tick (a coarse clock), so a renewal issued just after a second began
  // could start in the same second as the certificate it replaces, which must never happen.
  // Never in the future either: the certificate must work at once.
  const absl::Time now = absl::Now();
  const absl::Time start = std::min(std::max(not_before, now - absl::Minutes(5)), now);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(start));
  X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req->get()));
  if (!SetCommonName(X509_get_subject_name(cert.get()), common_name)) return Fail("subject");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  const bool client = usage == Usage::kClient;
  bool ok = AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
            AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
                         "critical,digitalSignature,keyAgreement") &&
            AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                         client ? "clientAuth" : "serverAuth") &&
            AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid");
  if (ok && !sans.empty()) {
    std::string value;
    for (const std::string& san : sans) {
      const bool ip = san.find_first_not_of("0123456789.") == std::string::npos ||
                      san.find(':') != std::string::npos;
      absl::StrAppend(&value, value.empty() ? "" : ",", ip ? "IP:" : "DNS:", san);
    }
    ok = AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, value);
  }
  if (!ok) return Fail("certificate extensions");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return Fail("signing");
  return Issued{CertPem(cert.get()), SerialHex(X509_get0_serialNumber(cert.get())),
                TimeOf(X509_get0_notAfter(cert.get())),
                PublicKeySha256(X509_REQ_get0_pubkey(req->get()))};
}

absl::StatusOr<CertInfo> InspectCert(const std::string& cert_pem, const std::string& ca_cert_pem) {
  Cert cert = ReadCert(cert_pem);
  if (!cert) return Bad("certificate: not PEM");
  if (!ca_cert_pem.empty()) {
    Cert ca = ReadCert(ca_cert_pem);
    if (!ca) return Bad("CA certificate: not PEM");
    if (X509_verify(cert.get(), X509_get0_pubkey(ca.get())) != 1) {
      return Bad("certificate: not signed by this CA");
    }
  }
  return CertInfo{CommonNameOf(X509_get_subject_name(cert.get())),
                  SerialHex(X509_get0_serialNumber(cert.get())),
                  TimeOf(X509_get0_notBefore(cert.get())), TimeOf(X509_get0_notAfter(cert.get())),
                  PublicKeySha256(X509_get0_pubkey(cert.get()))};
}

absl::StatusOr<std::vector<std::string>> CertificatesDer(const std::string& pem_bundle) {
  Bio bio = MemBio(pem_bundle);
  std::vector<std::string> out;
  while (true) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert.get(), &der);
    if (len <= 0) return Fail("certificate: cannot encode");
    out.emplace_back(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
  }
  // The loop ends at the end of the bundle (PEM_R_NO_START_LINE) or at a block that is broken.
  const unsigned long err = ERR_peek_last_error();
  const bool at_end =
      err == 0 || (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (!at_end) return Bad("certificate bundle: a block does not parse");
  if (out.empty()) return Bad("certificate bundle: no certificate");
  return out;
}

absl::StatusOr<std::string> SignData(const std::string& key_pem, absl::string_view data) {
  Key key = ReadKey(key_pem);
  if (!key) return Bad("key: not a PEM private key");
  std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return Fail("signing");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, in,
                     data.size()) != 1) {
    return Fail("signing");
  }
  signature.resize(len);
  return signature;
}

absl::Status VerifyData(const std::string& cert_pem, absl::string_view data,
                        absl::string_view signature) {
  Cert cert = ReadCert(cert_pem);
  if (!cert) return Bad("certificate: not PEM");
  std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(cert.get())) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1) {
    return Bad("signature: does not match the certificate's key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeCrl(const CertAndKey& ca, const std::vector<Revoked>& revoked,
                                    absl::Duration next_update) {
  Cert ca_cert = ReadCert(ca.cert_pem);
  Key ca_key = ReadKey(ca.key_pem);
  if (!ca_cert || !ca_key) return absl::FailedPreconditionError("the fleet CA is unreadable");
  Crl crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert.get()));
  std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>> now(
      ASN1_TIME_adj(nullptr, time(nullptr), 0, 0));
  std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>> next(
      ASN1_TIME_adj(nullptr, time(nullptr), 0, absl::ToInt64Seconds(next_update)));
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (const Revoked& r : revoked) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, r.serial.c_str()) == 0) return Bad("CRL: serial is not hex");
    Bn bn(raw);
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn.get(), nullptr);
    X509_REVOKED_set_serialNumber(entry, serial);
    ASN1_INTEGER_free(serial);
    ASN1_TIME* when = ASN1_TIME_adj(nullptr, absl::ToTimeT(r.time), 0, 0);
    X509_REVOKED_set_revocationDate(entry, when);
    ASN1_TIME_free(when);
    X509_CRL_add0_revoked(crl.get(), entry);
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) == 0) return Fail("signing the CRL");
  return ToPem([&](BIO* b) { return PEM_write_bio_X509_CRL(b, crl.get()) == 1; });
}

}  // namespace posfleet::pki

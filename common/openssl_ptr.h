#pragma once

// Owning pointers for the OpenSSL objects our thin layers over it hold (common/pki.cc,
// common/signing.cc), so that no OpenSSL object is freed by hand.

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>

namespace posfleet::ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using KeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

}  // namespace posfleet::ossl

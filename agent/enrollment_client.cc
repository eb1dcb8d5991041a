#include "agent/enrollment_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/enrollment_trust.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/pki.h"
#include "common/status_macros.h"
#include "posfleet/v1/enrollment.grpc.pb.h"

namespace posfleet::agent {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  std::ifstream in(path);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot read"));
  if (!pki::CertificatesDer(pem.str()).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": no PEM certificate"));
  }
  return pem.str();
}

std::unique_ptr<grpc::ClientContext> Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(NetworkDeadline(absl::Seconds(30)));
  return ctx;
}

}  // namespace

bool Transient(const absl::Status& s) {
  // RESOURCE_EXHAUSTED: the server's enrollment throttle asks to come back later.
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsResourceExhausted(s);
}

EnrollmentClient::EnrollmentClient(EnrollmentClientOptions options)
    : options_(std::move(options)) {}

absl::Status EnrollmentClient::LoadTrust() {
  if (options_.insecure_plaintext_for_development) {
    spdlog::warn(
        "agent: DEVELOPMENT MODE: enrolling and renewing over plaintext gRPC without "
        "authenticating the server; anyone on the network can impersonate it");
    if (options_.fleet_ca.empty()) return absl::OkStatus();
  } else if (options_.server_ca.empty()) {
    return absl::InvalidArgumentError(
        "no server CA: a terminal enrolls only with a server it can authenticate (--server-ca "
        "FILE; --insecure-plaintext-enrollment-for-development to test without)");
  } else {
    ASSIGN_OR_RETURN(server_ca_pem_, ReadPem(options_.server_ca, "--server-ca"));
  }
  std::string fleet = server_ca_pem_;
  if (!options_.fleet_ca.empty()) {
    ASSIGN_OR_RETURN(fleet, ReadPem(options_.fleet_ca, "--fleet-ca"));
  }
  ASSIGN_OR_RETURN(trusted_fleet_cas_, pki::CertificatesDer(fleet));
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> EnrollmentClient::Channel() const {
  if (options_.insecure_plaintext_for_development) {
    return grpc::CreateChannel(options_.server, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = server_ca_pem_;
  return grpc::CreateChannel(options_.server, grpc::SslCredentials(ssl));
}

absl::StatusOr<Identity> EnrollmentClient::Enroll(const std::string& key_pem,
                                                  const std::string& activation_code) {
  ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key_pem, options_.serial));
  v1::EnrollRequest req;
  req.set_vendor(options_.vendor);
  req.set_serial(options_.serial);
  req.set_activation_code(activation_code);
  req.set_csr_pem(csr);
  v1::EnrollResponse resp;
  auto stub = v1::EnrollmentService::NewStub(Channel());
  if (grpc::Status s = stub->Enroll(Call().get(), req, &resp); !s.ok()) return FromGrpc(s);
  RETURN_IF_ERROR(CheckIssued(resp, key_pem, trusted_fleet_cas_));
  return Identity{resp.terminal_id(), resp.certificate_pem(), key_pem, resp.ca_pem(),
                  resp.broker_address()};
}

absl::StatusOr<Renewed> EnrollmentClient::Renew(const Identity& current,
                                                const std::string& key_pem) {
  ASSIGN_OR_RETURN(std::string csr, pki::MakeCsr(key_pem, options_.serial));
  ASSIGN_OR_RETURN(std::string proof, pki::SignData(current.key_pem, csr));
  v1::RenewCertificateRequest req;
  req.set_certificate_pem(current.certificate_pem);
  req.set_csr_pem(csr);
  req.set_proof(proof);
  v1::EnrollResponse resp;
  auto stub = v1::EnrollmentService::NewStub(Channel());
  if (grpc::Status s = stub->RenewCertificate(Call().get(), req, &resp); !s.ok()) {
    return FromGrpc(s);
  }
  RETURN_IF_ERROR(CheckIssued(resp, key_pem, trusted_fleet_cas_, current.terminal_id));
  return Renewed{resp.certificate_pem(), resp.ca_pem()};
}

}  // namespace posfleet::agent

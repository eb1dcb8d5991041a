#include "common/status_macros.h"
#include "server/api/services.h"

namespace posfleet::api {

Status TerminalServiceImpl::IssueActivationCode(ServerContext* ctx,
                                                const v1::IssueActivationCodeRequest* req,
                                                v1::ActivationCode* resp) {
  return handler_.Run(
      ctx, "IssueActivationCode", *req, [&](const core::Actor& actor) -> absl::Status {
        ASSIGN_OR_RETURN(core::IssuedCode code,
                         enrollment_.IssueCode(actor, req->id(), req->ttl_seconds()));
        resp->set_terminal_id(code.terminal_id);
        resp->set_code(code.code);
        ToProto(code.expire_time, resp->mutable_expire_time());
        return absl::OkStatus();
      });
}

namespace {

void ToProto(const core::Enrolled& enrolled, v1::EnrollResponse* resp) {
  resp->set_terminal_id(enrolled.terminal_id);
  resp->set_certificate_pem(enrolled.certificate_pem);
  resp->set_ca_pem(enrolled.ca_pem);
  resp->set_broker_address(enrolled.broker_address);
  api::ToProto(enrolled.not_after, resp->mutable_not_after());
}

}  // namespace

namespace {

// "ipv4:10.1.2.3:5678" -> "ipv4:10.1.2.3": the address without the port, which changes with
// every connection.
std::string SourceOf(const ServerContext* ctx) {
  std::string peer = ctx->peer();
  const size_t colon = peer.rfind(':');
  if (colon != std::string::npos && peer.find(':') != colon) peer.resize(colon);
  return peer;
}

}  // namespace

Status EnrollmentServiceImpl::Enroll(ServerContext* ctx, const v1::EnrollRequest* req,
                                     v1::EnrollResponse* resp) {
  const absl::Time start = env_.Now();
  Status status = handler_.RunAnonymous("Enroll", *req, [&]() -> absl::Status {
    core::EnrollRequest r{req->vendor(), req->serial(), req->activation_code(), req->csr_pem(),
                          SourceOf(ctx)};
    ASSIGN_OR_RETURN(core::Enrolled enrolled, enrollment_.Enroll(r));
    ToProto(enrolled, resp);
    return absl::OkStatus();
  });
  // Every refusal takes the same time, however far the check got (an unknown code is one lookup,
  // another terminal's code a lookup, a lock and a count), so timing is no oracle either.
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    env_.SleepUntil(start + kRefusalTime);
  }
  return status;
}

Status EnrollmentServiceImpl::RenewCertificate(ServerContext* ctx,
                                               const v1::RenewCertificateRequest* req,
                                               v1::EnrollResponse* resp) {
  return handler_.RunAnonymous("RenewCertificate", *req, [&]() -> absl::Status {
    core::RenewRequest r{req->certificate_pem(), req->csr_pem(), req->proof(), SourceOf(ctx)};
    ASSIGN_OR_RETURN(core::Enrolled renewed, enrollment_.Renew(r));
    ToProto(renewed, resp);
    return absl::OkStatus();
  });
}

}  // namespace posfleet::api

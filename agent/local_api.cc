#include "agent/local_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "posfleet/v1/agent_local.grpc.pb.h"

namespace posfleet::agent {

class LocalApi::Service final : public v1::AgentLocal::Service {
 public:
  explicit Service(Agent& agent) : agent_(agent) {}

  grpc::Status RecordTransaction(grpc::ServerContext*, const v1::RecordTransactionRequest* req,
                                 v1::RecordTransactionResponse* resp) override {
    absl::StatusOr<OutboxAdd> added = agent_.RecordTransaction(req->record());
    if (!added.ok()) return ToGrpc(added.status());
    resp->set_seq(added->seq);
    resp->set_duplicate(added->duplicate);
    resp->set_outbox_records(agent_.Stats().records);
    return grpc::Status::OK;
  }

  grpc::Status RecordTransactions(grpc::ServerContext*, const v1::RecordTransactionsRequest* req,
                                  v1::RecordTransactionsResponse* resp) override {
    if (req->records_size() > 1000) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "records: at most 1000 at once");
    }
    absl::StatusOr<std::vector<OutboxAdd>> added = agent_.RecordTransactions(
        std::vector<v1::TxnRecord>(req->records().begin(), req->records().end()));
    if (!added.ok()) return ToGrpc(added.status());
    const uint64_t waiting = agent_.Stats().records;
    for (const OutboxAdd& a : *added) {
      v1::RecordTransactionResponse* r = resp->add_results();
      r->set_seq(a.seq);
      r->set_duplicate(a.duplicate);
      r->set_outbox_records(waiting);
    }
    return grpc::Status::OK;
  }

  grpc::Status SetBusy(grpc::ServerContext*, const v1::SetBusyRequest* req,
                       v1::SetBusyResponse*) override {
    agent_.SetBusy(req->busy());
    return grpc::Status::OK;
  }

  grpc::Status OutboxStatus(grpc::ServerContext*, const v1::OutboxStatusRequest*,
                            v1::OutboxStatusResponse* resp) override {
    const OutboxStats s = agent_.Stats();
    resp->set_records(s.records);
    resp->set_capacity(s.capacity);
    resp->set_in_flight(s.in_flight);
    resp->set_acknowledged(s.acknowledged);
    resp->set_rejected(s.rejected);
    resp->set_refused_full(s.refused_full);
    resp->set_connected(s.connected);
    if (s.oldest) {
      resp->set_oldest_age_seconds(static_cast<uint64_t>(
          std::max<int64_t>(0, absl::ToInt64Seconds(absl::Now() - *s.oldest))));
    }
    return grpc::Status::OK;
  }

  grpc::Status GetConfig(grpc::ServerContext*, const v1::GetConfigRequest* req,
                         v1::GetConfigResponse* resp) override {
    if (req->wait_seconds() > 300) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "wait_seconds: at most 300");
    }
    std::optional<v1::ConfigSet> set =
        req->wait_seconds() == 0
            ? agent_.config().Current()
            : agent_.config().WaitForChange(req->changed_from_hash(),
                                            absl::Now() + absl::Seconds(req->wait_seconds()));
    if (!set) return grpc::Status::OK;
    resp->set_present(true);
    resp->set_revision(set->revision());
    resp->set_hash(set->hash());
    resp->set_schema_version(set->schema_version());
    for (const v1::ConfigSet::Param& p : set->params()) {
      (*resp->mutable_values())[p.spec().key()] = p.value();
      if (p.spec().secret()) resp->add_secret_keys(p.spec().key());
    }
    return grpc::Status::OK;
  }

  grpc::Status ListRejected(grpc::ServerContext*, const v1::ListRejectedRequest*,
                            v1::ListRejectedResponse* resp) override {
    for (const OutboxRejection& r : agent_.Rejected()) {
      v1::RejectedRecord* out = resp->add_rejected();
      out->set_txn_id(r.txn_id);
      out->set_field(r.field);
      out->set_reason(r.reason);
    }
    return grpc::Status::OK;
  }

 private:
  Agent& agent_;
};

LocalApi::LocalApi(Agent& agent) : service_(std::make_unique<Service>(agent)) {}
LocalApi::~LocalApi() { Stop(); }

std::string LocalApiAddress(const std::string& state_dir) {
  return absl::StrCat("unix:", state_dir, "/agent.sock");
}

absl::Status LocalApi::Start(const std::string& socket_path) {
  ::unlink(socket_path.c_str());  // a socket left by a killed agent
  // The agent's user alone may connect (the payment app runs as it): mode 0600, in a 0700
  // directory. A process of the agent's group used to read a secret parameter and record a refund.
  const mode_t old = ::umask(077);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  ::umask(old);
  if (!server_) return absl::UnavailableError(absl::StrCat("cannot listen on ", socket_path));
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot make ", socket_path, " private"));
  }
  return absl::OkStatus();
}

void LocalApi::Stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
  }
}

}  // namespace posfleet::agent

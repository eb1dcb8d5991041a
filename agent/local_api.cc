#include "agent/local_api.h"

#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/env.h"
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
          std::max<int64_t>(0, absl::ToInt64Seconds(agent_.env().Now() - *s.oldest))));
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
                                            absl::Seconds(req->wait_seconds()));
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

namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Whether the process at the other end of `fd` runs as `owner`, or has `group` among its groups
// (as they were when it connected).
bool Admitted(int fd, uid_t owner, std::optional<gid_t> group, std::string& who) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    who = absl::StrCat("unknown peer (", std::strerror(errno), ")");
    return false;
  }
  who = absl::StrCat("pid ", cred.pid, " uid ", cred.uid, " gid ", cred.gid);
  if (cred.uid == owner) return true;
  if (!group) return false;
  if (cred.gid == *group) return true;
  std::vector<gid_t> groups(64);
  for (;;) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) break;
    if (errno != ERANGE || groups.size() >= 65536) return false;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  groups.resize(len / sizeof(gid_t));
  return std::find(groups.begin(), groups.end(), *group) != groups.end();
}

}  // namespace

absl::Status LocalApi::Start(const std::string& socket_path, std::optional<gid_t> group) {
  group_ = group;
  owner_ = geteuid();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();  // no port: connections come from AcceptLoop
  if (!server_) return absl::UnavailableError("cannot start the local API");

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(socket_path, ": path too long for a socket"));
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ::unlink(socket_path.c_str());  // a socket left by a killed agent
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) return Errno("socket");
  // The agent's user alone may connect (the payment app runs as it), or members of a configured
  // group: mode 0600 (0660 of that group), in a directory only they can enter. The file mode is
  // not the only guard: every connection's peer is checked (SO_PEERCRED), so a socket or
  // directory that someone loosened later still admits no one else. A process of the agent's
  // group used to read a secret parameter and record a refund.
  const mode_t old = ::umask(077);
  const int bound = ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (bound != 0) return Errno("bind " + socket_path);
  if (group && ::chown(socket_path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return Errno("chgrp " + socket_path);
  }
  if (::chmod(socket_path.c_str(), group ? 0660 : 0600) != 0) {
    return Errno("chmod " + socket_path);
  }
  if (::listen(listener_, 64) != 0) return Errno("listen " + socket_path);
  if (::pipe2(wake_, O_CLOEXEC) != 0) return Errno("pipe");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void LocalApi::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("local API: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // the peer gave up, or out of descriptors for now
    std::string who;
    if (!Admitted(fd, owner_, group_, who)) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("local API: refused a connection from {}: neither this agent's user nor {}", who,
                   group_ ? absl::StrCat("of group ", *group_) : "a configured group");
      ::close(fd);
      continue;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), fd);  // takes the (non-blocking) descriptor
  }
}

void LocalApi::Stop() {
  if (acceptor_.joinable()) {
    const char byte = 0;
    (void)!::write(wake_[1], &byte, 1);
    acceptor_.join();
  }
  for (int* fd : {&listener_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (server_) {
    server_->Shutdown(NetworkDeadline(absl::Seconds(2)));
    server_.reset();
  }
}

}  // namespace posfleet::agent

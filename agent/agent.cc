#include "agent/agent.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/core/backoff.h"
#include "common/logging.h"
#include "common/pki.h"
#include "posfleet/v1/enrollment.grpc.pb.h"

namespace posfleet::agent {
namespace {

std::string Topic(const std::string& id, const char* kind) {
  return absl::StrCat("posfleet/v1/t/", id, "/up/", kind);
}

std::string StatusPayload(const std::string& id, bool online, uint64_t session) {
  v1::Status s;
  s.set_terminal_id(id);
  s.set_online(online);
  s.set_session(session);
  s.set_agent_version(kAgentVersion);
  s.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  return s.SerializeAsString();
}

}  // namespace

Agent::Agent(AgentOptions options, HealthProvider& health)
    : options_(std::move(options)),
      health_(health),
      dir_(options_.state_dir),
      rng_(std::random_device{}()) {}

Agent::~Agent() = default;

State Agent::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::string Agent::terminal_id() const { return identity_ ? identity_->terminal_id : ""; }

void Agent::Fire(Event event) {
  absl::MutexLock lock(&mu_);
  std::optional<State> next = Next(state_, event);
  if (!next) {
    spdlog::error("agent: event {} in state {} is not in the table", EventName(event),
                  StateName(state_));
    return;
  }
  spdlog::debug("agent: {} --{}--> {}", StateName(state_), EventName(event), StateName(*next));
  state_ = *next;
}

void Agent::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

void Agent::DropConnection() {
  absl::MutexLock lock(&mu_);
  drop_ = true;
}

void Agent::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || lost_ || drop_; };
  mu_.AwaitWithTimeout(absl::Condition(&wake), d);
}

void Agent::connection_lost(const std::string& cause) {
  spdlog::warn("agent: connection lost: {}", cause);
  absl::MutexLock lock(&mu_);
  lost_ = true;
}

absl::Status Agent::Enroll() {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!options_.server_ca.empty()) {
    std::ifstream in(options_.server_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  auto stub = v1::EnrollmentService::NewStub(grpc::CreateChannel(options_.server, creds));
  absl::StatusOr<std::string> key = dir_.PendingKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = pki::MakeCsr(*key, options_.serial);
  if (!csr.ok()) return csr.status();
  v1::EnrollRequest req;
  req.set_vendor(options_.vendor);
  req.set_serial(options_.serial);
  req.set_activation_code(options_.activation_code);
  req.set_csr_pem(*csr);
  v1::EnrollResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status s = stub->Enroll(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  Identity id{resp.terminal_id(), resp.certificate_pem(), *key, resp.ca_pem(),
              resp.broker_address()};
  if (absl::Status saved = dir_.SaveIdentity(id); !saved.ok()) return saved;
  identity_ = std::move(id);
  spdlog::info("agent: enrolled as {}", identity_->terminal_id);
  return absl::OkStatus();
}

absl::Status Agent::Connect() {
  absl::StatusOr<uint64_t> session = dir_.NextSession();
  if (!session.ok()) return session.status();
  session_ = *session;
  const std::string& id = identity_->terminal_id;
  client_ = std::make_unique<mqtt::async_client>(identity_->broker_address, id);
  client_->set_callback(*this);
  auto ssl = mqtt::ssl_options_builder()
                 .trust_store(dir_.ca_file())
                 .key_store(dir_.cert_file())
                 .private_key(dir_.key_file())
                 .enable_server_cert_auth(true)
                 .finalize();
  auto opts =
      mqtt::connect_options_builder()
          .ssl(ssl)
          .mqtt_version(MQTTVERSION_3_1_1)
          .clean_session(true)
          .keep_alive_interval(std::chrono::seconds(
              std::max<int64_t>(10, absl::ToInt64Seconds(options_.heartbeat_interval) * 2)))
          .connect_timeout(std::chrono::seconds(10))
          .will(mqtt::message(Topic(id, "status"), StatusPayload(id, false, session_), 1, true))
          .finalize();
  try {
    client_->connect(opts)->wait();
    client_->publish(Topic(id, "status"), StatusPayload(id, true, session_), 1, true)->wait();
  } catch (const mqtt::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("broker ", identity_->broker_address, ": ", e.what()));
  }
  {
    absl::MutexLock lock(&mu_);
    lost_ = false;
  }
  spdlog::info("agent: online as {} (session {})", id, session_);
  return absl::OkStatus();
}

absl::Status Agent::PublishHeartbeat() {
  v1::Heartbeat hb;
  health_.Fill(hb);
  hb.set_terminal_id(identity_->terminal_id);
  hb.set_session(session_);
  hb.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  try {
    client_->publish(Topic(identity_->terminal_id, "heartbeat"), hb.SerializeAsString(), 1, false);
  } catch (const mqtt::exception& e) {
    return absl::UnavailableError(e.what());
  }
  return absl::OkStatus();
}

absl::Status Agent::Run() {
  if (absl::Status s = dir_.Init(); !s.ok()) return s;
  absl::StatusOr<std::optional<Identity>> loaded = dir_.LoadIdentity();
  if (!loaded.ok()) return loaded.status();
  identity_ = *loaded;
  if (identity_) {
    Fire(Event::kHaveIdentity);
  } else if (!options_.activation_code.empty()) {
    Fire(Event::kEnroll);
  } else {
    return absl::FailedPreconditionError(
        "not enrolled yet: pass --activation-code (ask a technician for one)");
  }
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  while (true) {
    bool stop;
    {
      absl::MutexLock lock(&mu_);
      stop = stop_;
    }
    if (stop && state() != State::kStopped) Fire(Event::kStop);
    switch (state()) {
      case State::kEnrolling: {
        absl::Status s = Enroll();
        Fire(s.ok() ? Event::kEnrolled : Event::kEnrollFailed);
        if (!s.ok()) {
          if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) {
            spdlog::error("agent: enrollment refused: {}", s.ToString());
            return s;
          }
          spdlog::warn("agent: enrollment failed, will retry: {}", s.ToString());
          Wait(Backoff(attempt_++, options_.backoff_base, options_.backoff_cap, jitter(rng_)));
          Fire(Event::kEnroll);
        } else {
          attempt_ = 0;
        }
        break;
      }
      case State::kConnecting: {
        absl::Status s = Connect();
        if (!s.ok()) spdlog::warn("agent: {}", s.ToString());
        Fire(s.ok() ? Event::kConnected : Event::kConnectFailed);
        if (s.ok()) attempt_ = 0;
        break;
      }
      case State::kOnline: {
        if (absl::Status s = PublishHeartbeat(); !s.ok()) {
          spdlog::warn("agent: heartbeat not sent: {}", s.ToString());
        }
        Wait(options_.heartbeat_interval);
        bool lost, drop;
        {
          absl::MutexLock lock(&mu_);
          lost = lost_;
          drop = drop_;
          drop_ = false;
        }
        if (drop && !lost) {
          try {
            const std::string& id = identity_->terminal_id;
            client_->publish(Topic(id, "status"), StatusPayload(id, false, session_), 1, true)
                ->wait_for(std::chrono::seconds(5));
            client_->disconnect()->wait_for(std::chrono::seconds(5));
          } catch (const mqtt::exception&) {
          }
          lost = true;
        }
        if (lost) Fire(Event::kConnectionLost);
        break;
      }
      case State::kOffline:
        Wait(Backoff(attempt_++, options_.backoff_base, options_.backoff_cap, jitter(rng_)));
        Fire(Event::kBackoffElapsed);
        break;
      case State::kUnenrolled:
        Fire(Event::kEnroll);
        break;
      case State::kStopped:
        if (client_ && client_->is_connected()) {
          try {
            const std::string& id = identity_->terminal_id;
            client_->publish(Topic(id, "status"), StatusPayload(id, false, session_), 1, true)
                ->wait_for(std::chrono::seconds(5));
            client_->disconnect()->wait_for(std::chrono::seconds(5));
          } catch (const mqtt::exception&) {
          }
        }
        return absl::OkStatus();
    }
  }
}

}  // namespace posfleet::agent

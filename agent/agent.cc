#include "agent/agent.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/core/backoff.h"
#include "common/link_topics.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/txn_record.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::agent {
namespace {

std::string Topic(const std::string& id, const char* kind) { return UpTopic(id, kind); }

constexpr size_t kMaxBatchBytes = 48 * 1024;  // the server takes up to 64 KiB per message

}  // namespace

Agent::Agent(AgentOptions options, HealthProvider& health)
    : options_(std::move(options)),
      env_(options_.env != nullptr ? *options_.env : RealEnv()),
      health_(health),
      enrollment_({options_.server, options_.server_ca, options_.fleet_ca,
                   options_.insecure_plaintext_for_development, options_.vendor, options_.serial}),
      dir_(options_.state_dir),
      activation_code_(options_.activation_code),
      own_loop_(options_.loop == nullptr ? std::make_unique<MqttLoop>() : nullptr),
      loop_(options_.loop != nullptr ? *options_.loop : *own_loop_) {}

Agent::~Agent() { link_.reset(); }

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

void Agent::Kill() {
  absl::MutexLock lock(&mu_);
  kill_ = true;
  stop_ = true;
}

void Agent::SetFrozen(bool frozen) {
  absl::MutexLock lock(&mu_);
  frozen_ = frozen;
}

bool Agent::frozen() const {
  absl::MutexLock lock(&mu_);
  return frozen_;
}

void Agent::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || lost_ || drop_ || txn_wake_;
  };
  env_.AwaitWithTimeout(mu_, absl::Condition(&wake), d);
}

void Agent::WaitBackoff(absl::Duration d) {
  const absl::Time deadline = env_.Now() + d;
  absl::MutexLock lock(&mu_);
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
  env_.AwaitWithDeadline(mu_, absl::Condition(&stopped), deadline);
}

std::string Agent::StatusPayload(bool online) const {
  v1::Status s;
  s.set_terminal_id(identity_->terminal_id);
  s.set_online(online);
  s.set_session(session_);
  s.set_agent_version(kAgentVersion);
  s.mutable_time()->set_seconds(absl::ToUnixSeconds(env_.Now()));
  return s.SerializeAsString();
}

absl::Status Agent::SetIdentity(Identity identity) {
  absl::StatusOr<pki::CertInfo> info = pki::InspectCert(identity.certificate_pem);
  if (!info.ok()) return absl::DataLossError("state dir: cert.pem is not a certificate");
  identity_ = std::move(identity);
  certificate_ = *std::move(info);
  return absl::OkStatus();
}

absl::Status Agent::Enroll() {
  ASSIGN_OR_RETURN(std::string key, dir_.PendingKey());
  ASSIGN_OR_RETURN(Identity id, enrollment_.Enroll(key, activation_code_));
  RETURN_IF_ERROR(dir_.SaveIdentity(id));
  RETURN_IF_ERROR(SetIdentity(std::move(id)));
  activation_code_.clear();  // spent
  spdlog::info("agent: enrolled as {}", identity_->terminal_id);
  return absl::OkStatus();
}

absl::Status Agent::Renew() {
  ASSIGN_OR_RETURN(std::string key, dir_.PendingRenewalKey());
  ASSIGN_OR_RETURN(Renewed issued, enrollment_.Renew(*identity_, key));
  ASSIGN_OR_RETURN(Identity renewed, dir_.SaveRenewed(issued.certificate_pem, issued.ca_pem));
  const std::string old_serial = certificate_->serial;
  RETURN_IF_ERROR(SetIdentity(std::move(renewed)));
  spdlog::info("agent: certificate {} renewed as {}, valid until {}", old_serial,
               certificate_->serial, absl::FormatTime(certificate_->not_after));
  return absl::OkStatus();
}

CertificateAction Agent::CertificateNeeds() {
  const absl::Time now = env_.Now();
  const CertificateAction action =
      CertificateActionAt(certificate_->not_before, certificate_->not_after, now);
  if (action == CertificateAction::kRenew && now < next_renewal_) return CertificateAction::kKeep;
  return action;
}

absl::Status Agent::Connect() {
  if (link_ && link_->connected()) {
    if (link_certificate_ == identity_->certificate_pem) return absl::OkStatus();
    // Renewed while online: end this session properly and start one with the new certificate.
    Disconnect();
  }
  link_.reset();
  MqttOptions o;
  RETURN_IF_ERROR(ParseBrokerAddress(identity_->broker_address, &o.host, &o.port));
  ++connect_attempts_;
  ASSIGN_OR_RETURN(session_, dir_.NextSession());
  const std::string& id = identity_->terminal_id;
  o.client_id = id;
  o.ca_file = dir_.ca_file();
  o.cert_file = dir_.cert_file();
  o.key_file = dir_.key_file();
  o.keep_alive = std::max(absl::Seconds(10), options_.heartbeat_interval * 2);
  o.will_topic = Topic(id, "status");
  o.will_payload = StatusPayload(false);
  {
    absl::MutexLock lock(&mu_);
    lost_ = false;
  }
  link_ = std::make_unique<MqttConnection>(loop_, [this](const std::string& why) {
    spdlog::warn("agent: connection lost: {}", why);
    absl::MutexLock lock(&mu_);
    lost_ = true;
  });
  link_->SetUnheardHandler([this] {
    absl::MutexLock lock(&mu_);
    unheard_ = true;
    txn_wake_ = true;
  });
  const std::string ack_topic = DownTopic(id, "ack");
  const std::string config_topic = DownTopic(id, "config");
  link_->SetMessageHandler(
      [this, ack_topic, config_topic](const std::string& topic, const std::string& payload) {
        if (topic == ack_topic) {
          OnAck(payload);
        } else if (topic == config_topic) {
          OnConfig(payload);
        } else if (topic == kServerReadyTopic) {
          v1::ServerReady ready;
          if (!ready.ParseFromString(payload)) return;  // only the server may write there
          absl::MutexLock lock(&mu_);
          server_ready_ = true;
          txn_wake_ = true;
        }
      });
  // A new session: whatever was in flight is sent again.
  if (uploader_) uploader_->Reset(id);
  next_heartbeat_ = absl::InfinitePast();
  absl::Status s = link_->Connect(o, absl::Seconds(10));
  // The ack subscription is in place before any transaction goes up.
  if (s.ok()) s = link_->Subscribe(ack_topic, 0, absl::Seconds(10));
  // The retained parameter set arrives right after; the report follows from Run's loop.
  if (s.ok()) s = link_->Subscribe(config_topic, 1, absl::Seconds(10));
  // Optional: a broker whose rules predate the announcement refuses it, and the ack timeout
  // still recovers everything (only more slowly).
  if (s.ok()) {
    if (absl::Status r = link_->Subscribe(std::string(kServerReadyTopic), 0, absl::Seconds(10));
        !r.ok()) {
      spdlog::warn("agent: no server-ready announcements: {}", r.message());
    }
  }
  if (s.ok()) s = link_->Publish(o.will_topic, StatusPayload(true), 1, true, absl::Seconds(10));
  if (!s.ok()) {
    link_.reset();
    return absl::UnavailableError(
        absl::StrCat("broker ", identity_->broker_address, ": ", s.message()));
  }
  link_certificate_ = identity_->certificate_pem;
  spdlog::info("agent: online as {} (session {})", id, session_);
  return absl::OkStatus();
}

void Agent::Disconnect() {
  if (!link_ || !link_->connected()) return;
  bool killed;
  {
    absl::MutexLock lock(&mu_);
    killed = kill_;
  }
  if (!killed) {
    // A goodbye: say offline (retained, replacing "online"), then a clean DISCONNECT, which makes
    // the broker discard the Will.
    (void)link_->Publish(Topic(identity_->terminal_id, "status"), StatusPayload(false), 1, true,
                         absl::Seconds(5));
  }
  link_->Disconnect(/*with_will=*/killed);
}

absl::Status Agent::PublishHeartbeat() {
  v1::Heartbeat hb;
  health_.Fill(hb);
  hb.set_terminal_id(identity_->terminal_id);
  hb.set_session(session_);
  hb.mutable_time()->set_seconds(absl::ToUnixSeconds(env_.Now()));
  if (!link_) return absl::UnavailableError("not connected");
  // QoS 0: the next heartbeat supersedes this one, and presence allows for missed ones. At QoS 1
  // every heartbeat costs the broker a PUBACK to the terminal, and the server's shared
  // subscription an inflight slot that Mosquitto frees one PUBACK per loop turn: under load the
  // server's share of the broker collapses to a message or two a second (docs/benchmarks.md).
  return link_->Publish(Topic(identity_->terminal_id, "heartbeat"), hb.SerializeAsString(), 0,
                        false);
}

absl::Status Agent::Open() {
  if (opened_) return absl::OkStatus();
  RETURN_IF_ERROR(enrollment_.LoadTrust());
  RETURN_IF_ERROR(dir_.Init(options_.local_api_group));
  if (options_.outbox != nullptr) {
    outbox_ = options_.outbox;
  } else {
    ASSIGN_OR_RETURN(own_outbox_, OpenSqliteOutbox(options_.state_dir + "/outbox.db",
                                                   options_.outbox_capacity, env_));
    outbox_ = own_outbox_.get();
  }
  UploaderOptions uploader;
  uploader.window = options_.txn_window;
  uploader.batch_records = options_.txn_batch_records;
  uploader.max_batch_bytes = kMaxBatchBytes;
  uploader.ack_timeout = options_.ack_timeout;
  uploader.ready_resend_spread = options_.ready_resend_spread;
  uploader.on_committed = options_.on_committed;
  uploader_.emplace(std::move(uploader), env_, *outbox_, [this](const std::string& batch) {
    return link_->Publish(Topic(identity_->terminal_id, "txn"), batch, 1, false);
  });
  if (absl::Status s = config_.Load(); !s.ok()) {
    // The retained down/config brings the set again at the next connect.
    spdlog::error("agent: {}; waiting for the server's set", s.ToString());
  }
  opened_ = true;
  return absl::OkStatus();
}

absl::StatusOr<OutboxAdd> Agent::RecordTransaction(v1::TxnRecord record) {
  std::vector<v1::TxnRecord> one;
  one.push_back(std::move(record));
  ASSIGN_OR_RETURN(std::vector<OutboxAdd> added, RecordTransactions(std::move(one)));
  return added.front();
}

absl::StatusOr<std::vector<OutboxAdd>> Agent::RecordTransactions(
    std::vector<v1::TxnRecord> records) {
  if (outbox_ == nullptr) return absl::UnavailableError("the agent is starting; try again");
  if (records.empty()) return absl::InvalidArgumentError("records: none given");
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    v1::TxnRecord& record = records[i];
    record.clear_seq();
    if (std::optional<TxnProblem> problem = CheckTxnRecord(record)) {
      return absl::InvalidArgumentError(
          absl::StrCat(records.size() > 1 ? absl::StrCat("record ", i, ": ") : "", problem->field,
                       ": ", problem->reason, problem->card_number ? "; not recorded" : ""));
    }
    rows.emplace_back(record.txn_id(), record.SerializeAsString());
  }
  absl::StatusOr<std::vector<OutboxAdd>> added = outbox_->AddAll(rows);
  if (absl::IsResourceExhausted(added.status())) {
    if (refused_full_.fetch_add(1) % 1000 == 0) {
      spdlog::error("agent: {}", added.status().message());
    }
    return added;
  }
  if (added.ok()) {
    absl::MutexLock lock(&mu_);
    txn_wake_ = true;
  }
  return added;
}

OutboxStats Agent::Stats() {
  OutboxStats s;
  if (outbox_ != nullptr) {
    s.records = outbox_->size();
    s.capacity = outbox_->capacity();
    s.oldest = outbox_->oldest();
  }
  s.in_flight = in_flight_.load();
  s.acknowledged = acknowledged_.load();
  s.rejected = rejected_.load();
  s.refused_full = refused_full_.load();
  s.connected = state() == State::kOnline;
  return s;
}

std::vector<OutboxRejection> Agent::Rejected() {
  return outbox_ != nullptr ? outbox_->Rejected() : std::vector<OutboxRejection>{};
}

void Agent::OnAck(const std::string& payload) {
  absl::MutexLock lock(&mu_);
  acks_in_.push_back(payload);
  txn_wake_ = true;
}

void Agent::OnConfig(const std::string& payload) {
  absl::MutexLock lock(&mu_);
  config_in_ = payload;  // only the newest matters
  txn_wake_ = true;
}

void Agent::ApplyReceivedConfig() {
  std::optional<std::string> payload;
  {
    absl::MutexLock lock(&mu_);
    payload.swap(config_in_);
  }
  if (!payload || !link_) return;
  const std::string id = terminal_id();
  std::optional<v1::ConfigReport> report = config_.Apply(*payload, id);
  if (!report) return;
  if (absl::Status s = link_->Publish(UpTopic(id, "config-report"), report->SerializeAsString(), 1,
                                      false, absl::ZeroDuration());
      !s.ok()) {
    // The retained set comes again at the next connect, and with it the report.
    spdlog::warn("agent: config report not sent: {}", s.ToString());
  }
}

void Agent::PumpTransactions() {
  std::vector<std::string> acks;
  bool unheard = false;
  bool ready = false;
  {
    absl::MutexLock lock(&mu_);
    txn_wake_ = false;
    acks.swap(acks_in_);
    std::swap(unheard, unheard_);
    std::swap(ready, server_ready_);
  }
  if (!uploader_) return;
  for (const std::string& payload : acks) uploader_->OnAck(payload);
  if (link_) {
    if (unheard) uploader_->OnUnheard();
    if (ready) uploader_->OnServerReady();
    uploader_->Pump();
  }
  acknowledged_ = uploader_->acknowledged();
  rejected_ = uploader_->rejected();
  in_flight_ = uploader_->in_flight();
}

absl::Time Agent::NextTxnDeadline() const {
  return uploader_ ? uploader_->NextDeadline() : absl::InfiniteFuture();
}

absl::Status Agent::last_enroll_error() const {
  absl::MutexLock lock(&mu_);
  return last_enroll_error_;
}

absl::Status Agent::StepEnrolling() {
  absl::Status s = Enroll();
  {
    absl::MutexLock lock(&mu_);
    last_enroll_error_ = s;
  }
  Fire(s.ok() ? Event::kEnrolled : Event::kEnrollFailed);
  if (!s.ok()) {
    if (!Transient(s)) {
      spdlog::error("agent: enrollment refused: {}", s.ToString());
      return s;
    }
    spdlog::warn("agent: enrollment failed, will retry: {}", s.ToString());
    WaitBackoff(Backoff(attempt_++, options_.backoff_base, options_.backoff_cap, env_.Uniform()));
  } else {
    attempt_ = 0;
  }
  return absl::OkStatus();
}

void Agent::StepConnecting() {
  const CertificateAction needs = CertificateNeeds();
  if (needs == CertificateAction::kExpired) {
    stopped_because_ = absl::StrCat(
        "the certificate expired on ",
        absl::FormatTime("%Y-%m-%d %H:%M UTC", certificate_->not_after, absl::UTCTimeZone()),
        " before it could be renewed");
    spdlog::error("agent: {}", stopped_because_);
    Disconnect();
    Fire(Event::kIdentityExpired);
    return;
  }
  if (needs == CertificateAction::kRenew) {
    Fire(Event::kRenewalDue);
    return;
  }
  absl::Status s = Connect();
  if (uint64_t held = 0; !s.ok() && connect_log_.Allow(s.ToString(), env_.Now(), &held)) {
    if (held > 0) {
      spdlog::warn("agent: {} ({} more like it since the last)", s.ToString(), held);
    } else {
      spdlog::warn("agent: {}", s.ToString());
    }
  }
  Fire(s.ok() ? Event::kConnected : Event::kConnectFailed);
  if (s.ok()) attempt_ = 0;
}

void Agent::StepRenewing() {
  absl::Status s = Renew();
  if (s.ok()) {
    renew_attempt_ = 0;
    // A fresh certificate is never due; if this one is, the terminal's clock is ahead of
    // the server's. At most ten renewals per validity then, instead of one per loop.
    const absl::Duration validity = certificate_->not_after - certificate_->not_before;
    next_renewal_ = env_.Now() + validity / 10;
    if (env_.Now() >= RenewalTime(certificate_->not_before, certificate_->not_after)) {
      spdlog::warn(
          "agent: the new certificate is already due for renewal: this terminal's clock "
          "({}) is ahead of the server's (the certificate starts {})",
          absl::FormatTime(env_.Now()), absl::FormatTime(certificate_->not_before));
    }
    Fire(Event::kRenewed);
    return;
  }
  // Retried within minutes at first, then hourly, until the certificate expires.
  const absl::Duration wait =
      Backoff(renew_attempt_++, absl::Minutes(1), absl::Hours(1), env_.Uniform());
  next_renewal_ = env_.Now() + wait;
  spdlog::log(Transient(s) ? spdlog::level::warn : spdlog::level::err,
              "agent: certificate renewal failed, next try in {}: {}", absl::FormatDuration(wait),
              s.ToString());
  Fire(Event::kRenewFailed);
}

void Agent::StepOnline() {
  const bool is_frozen = frozen();
  if (is_frozen) {
    absl::MutexLock lock(&mu_);
    txn_wake_ = false;  // a hung terminal uploads nothing either
  } else {
    if (env_.Now() >= next_heartbeat_) {
      next_heartbeat_ = env_.Now() + options_.heartbeat_interval;
      if (absl::Status s = PublishHeartbeat(); !s.ok()) {
        spdlog::warn("agent: heartbeat not sent: {}", s.ToString());
      }
    }
    ApplyReceivedConfig();
    PumpTransactions();
  }
  Wait(is_frozen ? options_.heartbeat_interval
                 : std::min(next_heartbeat_, NextTxnDeadline()) - env_.Now());
  bool lost, drop;
  {
    absl::MutexLock lock(&mu_);
    lost = lost_;
    drop = drop_;
    drop_ = false;
  }
  if (drop && !lost) {
    Disconnect();
    lost = true;
  }
  if (lost) {
    Fire(Event::kConnectionLost);
  } else if (CertificateNeeds() != CertificateAction::kKeep) {
    Fire(Event::kRenewalDue);  // an expired one is found out on the way to connecting
  }
}

absl::Status Agent::Run() {
  RETURN_IF_ERROR(Open());
  ASSIGN_OR_RETURN(std::optional<Identity> loaded, dir_.LoadIdentity());
  if (loaded) {
    RETURN_IF_ERROR(SetIdentity(*std::move(loaded)));
    Fire(Event::kHaveIdentity);
  }
  while (true) {
    bool stop;
    {
      absl::MutexLock lock(&mu_);
      stop = stop_;
    }
    if (stop && state() != State::kStopped) Fire(Event::kStop);
    switch (state()) {
      case State::kUnenrolled:
        if (activation_code_.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat(stopped_because_.empty() ? "not enrolled yet" : stopped_because_,
                           ": pass --activation-code-file (ask a technician for a code)"));
        }
        Fire(Event::kEnroll);
        break;
      case State::kEnrolling:
        RETURN_IF_ERROR(StepEnrolling());
        break;
      case State::kConnecting:
        StepConnecting();
        break;
      case State::kRenewing:
        StepRenewing();
        break;
      case State::kOnline:
        StepOnline();
        break;
      case State::kOffline:
        WaitBackoff(
            Backoff(attempt_++, options_.backoff_base, options_.backoff_cap, env_.Uniform()));
        Fire(Event::kBackoffElapsed);
        break;
      case State::kStopped:
        Disconnect();
        return absl::OkStatus();
    }
  }
}

}  // namespace posfleet::agent

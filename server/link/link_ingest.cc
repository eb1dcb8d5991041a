#include "server/link/link_ingest.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "broker/access_rules.h"
#include "common/link_limits.h"
#include "common/link_topics.h"
#include "common/logging.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::link {
namespace {

constexpr char kMetric[] = "posfleet_link_messages_total";
constexpr char kTxnMetric[] = "posfleet_txn_records_total";

}  // namespace

// One MQTT connection of the replica, a member of the shared subscription.
class LinkIngest::Member : public mqtt::callback {
 public:
  Member(LinkIngest& owner, const std::string& client_id)
      : owner_(owner),
        // Paho counts every publish waiting for its sending thread against the "buffered
        // messages" limit, connected or not, and refuses the rest (MQTT error -12); its default
        // of 100 dropped acks as soon as one commit covered more than 100 terminals, and those
        // terminals sent their batches again after their ack timeout. An ack is ~100 bytes:
        // 128k of them is 13 MiB at worst.
        client_(std::make_unique<mqtt::async_client>(
            owner.options_.broker_url, client_id,
            mqtt::create_options(MQTTVERSION_3_1_1, 128 * 1024), nullptr)) {
    client_->set_callback(*this);
  }

  absl::Status Connect() {
    const LinkIngestOptions& o = owner_.options_;
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(o.ca_file)
                   .key_store(o.cert_file)
                   .private_key(o.key_file)
                   .enable_server_cert_auth(true)
                   .finalize();
    auto opts = mqtt::connect_options_builder()
                    .ssl(ssl)
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .clean_session(true)
                    .keep_alive_interval(std::chrono::seconds(20))
                    // The fleet's only readers: a broker restart lasts as long as the server
                    // takes to come back, so its retries stay 1-2 s apart (a handful of clients,
                    // unlike the terminals, whose backoff grows to a minute).
                    .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(2))
                    .connect_timeout(std::chrono::seconds(10))
                    .finalize();
    try {
      client_->connect(opts)->wait();
    } catch (const mqtt::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("MQTT: cannot connect to ", o.broker_url, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  void Disconnect() {
    if (!client_->is_connected()) return;
    try {
      client_->disconnect()->wait_for(std::chrono::seconds(5));
    } catch (const mqtt::exception&) {
    }
  }

  // QoS 1, retained or not: the broker keeps a retained one for a terminal that is offline now.
  // Null if the connection is down or the publish was refused.
  mqtt::delivery_token_ptr PublishQos1(const std::string& topic, const std::string& payload,
                                       bool retained) {
    if (!client_->is_connected() || !FitsThePacketLimit(topic, payload)) return nullptr;
    try {
      return client_->publish(topic, payload.data(), payload.size(), 1, retained);
    } catch (const mqtt::exception& e) {
      spdlog::warn("link: QoS 1 publish on {} failed: {}", client_->get_client_id(), e.what());
      return nullptr;
    }
  }

  // QoS 0, fire and forget; false if the connection is down.
  bool Publish(const std::string& topic, const std::string& payload) {
    if (!client_->is_connected() || !FitsThePacketLimit(topic, payload)) return false;
    try {
      client_->publish(topic, payload.data(), payload.size(), 0, false);
      return true;
    } catch (const mqtt::exception& e) {
      static std::atomic<uint64_t> failures{0};
      if (const uint64_t n = ++failures; n <= 5 || n % 1000 == 0) {
        spdlog::warn("link: publish on {} failed ({} so far): {}", client_->get_client_id(), n,
                     e.what());
      }
      return false;
    }
  }

 private:
  // The broker disconnects a client that sends a packet over its limit: such a payload is never
  // sent, so one oversized downlink cannot take the server's link down.
  bool FitsThePacketLimit(const std::string& topic, const std::string& payload) {
    if (payload.size() <= kMaxDownlinkPayloadBytes) return true;
    owner_.counters_.Add("posfleet_link_downlinks_oversized_total", "");
    spdlog::error("link: not publishing {} bytes on {}: over the broker's packet limit",
                  payload.size(), topic.substr(0, 128));
    return false;
  }

  void connected(const std::string&) override {
    // Also after every automatic reconnect: a clean session forgets subscriptions.
    client_->subscribe(std::string(kSharedUplinks), 0, nullptr, subscribed_);
    spdlog::info("link: {} connected to {}, reading {}", client_->get_client_id(),
                 owner_.options_.broker_url, std::string(kSharedUplinks));
  }

  // Once the broker has granted the subscription, every terminal hears that this server reads
  // again: what an agent sent meanwhile was dropped unread (or lost in a crash), and it sends it
  // again now rather than after its ack timeout.
  void AnnounceReady() {
    v1::ServerReady ready;
    ready.set_server(client_->get_client_id());
    if (Publish(std::string(kServerReadyTopic), ready.SerializeAsString())) {
      owner_.counters_.Add("posfleet_link_ready_announced_total", "");
    }
  }
  class Subscribed final : public mqtt::iaction_listener {
   public:
    explicit Subscribed(Member& m) : m_(m) {}
    void on_success(const mqtt::token&) override { m_.AnnounceReady(); }
    void on_failure(const mqtt::token& t) override {
      spdlog::error("link: {} could not subscribe to {} (code {})", m_.client_->get_client_id(),
                    std::string(kSharedUplinks), t.get_return_code());
    }

   private:
    Member& m_;
  };
  void connection_lost(const std::string& cause) override {
    spdlog::warn("link: connection {} to the broker lost ({}); reconnecting",
                 client_->get_client_id(), cause);
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    owner_.Accept(msg->get_topic(), msg->get_payload());
  }

  LinkIngest& owner_;
  std::unique_ptr<mqtt::async_client> client_;
  Subscribed subscribed_{*this};
};

LinkIngest::LinkIngest(core::Store& store, Counters& counters, Env& env, LinkIngestOptions options)
    : store_(store), counters_(counters), env_(env), options_(std::move(options)) {}

LinkIngest::~LinkIngest() { Stop(); }

absl::Status LinkIngest::Start() {
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    members_.push_back(std::make_unique<Member>(*this, absl::StrCat(options_.client_id, "-", i)));
    if (absl::Status s = members_.back()->Connect(); !s.ok()) return s;
  }
  writer_ = std::thread([this] {
    while (!env_.WaitForNotification(stop_, options_.flush_interval)) {
      if (absl::Status s = Flush(); !s.ok()) {
        spdlog::warn("link: presence not written yet: {}", s.ToString());
      }
    }
  });
  for (int w = 0; w < std::max(1, options_.txn_writers); ++w) {
    txn_writers_.emplace_back([this] {
      absl::Duration retry = options_.txn_retry;
      while (true) {
        {
          absl::MutexLock lock(&txn_mu_);
          auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(txn_mu_) {
            return txn_stop_ || !txn_pending_.empty();
          };
          txn_mu_.Await(absl::Condition(&ready));
          if (txn_stop_) break;
        }
        if (absl::Status s = FlushTransactions(); !s.ok()) {
          spdlog::warn("link: transactions not committed yet, retrying in {}: {}",
                       absl::FormatDuration(retry), s.ToString());
          if (env_.WaitForNotification(stop_, retry)) break;
          retry = std::min(retry * 2, absl::Seconds(5));
        } else {
          retry = options_.txn_retry;
        }
      }
    });
  }
  return absl::OkStatus();
}

void LinkIngest::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  {
    absl::MutexLock lock(&txn_mu_);
    txn_stop_ = true;
  }
  if (writer_.joinable()) writer_.join();
  for (std::thread& t : txn_writers_) t.join();
  txn_writers_.clear();
  // Commit (and acknowledge) what already arrived, once; anything left is sent again by the
  // terminals.
  (void)FlushTransactions();
  for (auto& m : members_) m->Disconnect();
  (void)Flush();
}

DecodeLimits LinkIngest::Limits() const {
  const absl::Time now = env_.Now();
  const absl::CivilMonth month(absl::ToCivilDay(now, absl::UTCTimeZone()));
  DecodeLimits limits;
  limits.txn_earliest =
      absl::FromCivil(month - (options_.txn_retention_months - 1), absl::UTCTimeZone());
  limits.txn_latest = now + absl::Hours(24);
  return limits;
}

void LinkIngest::Accept(const std::string& topic, const std::string& payload) {
  absl::StatusOr<Uplink> up = DecodeUplink(topic, payload, Limits());
  if (!up.ok()) {
    const std::string reason = RejectReason(up.status());
    const size_t last = topic.rfind('/');
    const std::string kind = reason == "topic" ? "unknown" : topic.substr(last + 1);
    counters_.Add(kMetric, absl::StrCat("kind=\"", kind, "\",result=\"", reason, "\""));
    spdlog::debug("link: dropped a message on {}: {}", topic.substr(0, 128), up.status().message());
    return;
  }
  counters_.Add(kMetric, absl::StrCat("kind=\"", KindName(up->kind), "\",result=\"ok\""));
  if (up->txn) {
    QueueTransactions(up->terminal_id, *std::move(up->txn));
    return;
  }
  absl::MutexLock lock(&mu_);
  if (up->config_report) config_reports_.push_back(*std::move(up->config_report));
  if (up->status) statuses_.push_back(*std::move(up->status));
  if (up->heartbeat) heartbeats_.push_back(*std::move(up->heartbeat));
  // Bounded memory while the database is slow or down: the oldest heartbeats go first (a newer
  // one from the same terminal supersedes them anyway); statuses are kept.
  if (heartbeats_.size() > options_.max_pending) {
    const size_t drop = heartbeats_.size() - options_.max_pending;
    heartbeats_.erase(heartbeats_.begin(), heartbeats_.begin() + static_cast<long>(drop));
    counters_.Add("posfleet_link_heartbeats_dropped_total", "", static_cast<int64_t>(drop));
  }
}

void LinkIngest::QueueTransactions(const std::string& terminal_id, TxnUpload upload) {
  for (const TxnRejection& r : upload.rejected) {
    if (r.card_number) {
      counters_.Add("posfleet_txn_quarantined_total", absl::StrCat("field=\"", r.field, "\""));
      spdlog::warn("link: quarantined a transaction of {}: txn {}, field {} holds a card number",
                   terminal_id, r.txn_id.empty() ? "(id unusable)" : r.txn_id, r.field);
    } else {
      counters_.Add(kTxnMetric, "result=\"rejected\"");
      spdlog::debug("link: rejected a transaction of {}: txn {}, {}: {}", terminal_id,
                    r.txn_id.empty() ? "(id unusable)" : r.txn_id, r.field, r.reason);
    }
  }
  if (upload.records.empty()) {
    Acknowledge({PendingBatch{terminal_id, std::move(upload)}}, {}, {}, {});
    return;
  }
  {
    absl::MutexLock lock(&txn_mu_);
    if (txn_pending_records_ + upload.records.size() <= options_.txn_pending_max) {
      txn_pending_records_ += upload.records.size();
      txn_pending_.push_back(PendingBatch{terminal_id, std::move(upload)});
      return;
    }
  }
  // Backpressure: the terminal keeps the records and sends them again after its ack timeout.
  counters_.Add("posfleet_txn_batches_deferred_total", "");
}

absl::Status LinkIngest::FlushTransactions() {
  // Writers run this concurrently, each with its own batches: acks name seqs, so the order in
  // which commits finish does not matter.
  std::vector<PendingBatch> batches;
  size_t count = 0;
  {
    absl::MutexLock lock(&txn_mu_);
    while (!txn_pending_.empty() &&
           (batches.empty() ||
            count + txn_pending_.front().upload.records.size() <= options_.txn_batch_max)) {
      count += txn_pending_.front().upload.records.size();
      batches.push_back(std::move(txn_pending_.front()));
      txn_pending_.pop_front();
    }
  }
  if (batches.empty()) return absl::OkStatus();
  // The records of all batches, in batch order; each batch keeps its record count.
  std::vector<core::Txn> all;
  all.reserve(count);
  for (PendingBatch& b : batches) {
    for (core::Txn& t : b.upload.records) all.push_back(std::move(t));
  }
  const absl::Time begin = env_.Now();
  absl::StatusOr<core::IngestOutcome> out = store_.IngestTransactions(all);
  counters_.Add("posfleet_txn_commits_total", out.ok() ? "result=\"ok\"" : "result=\"error\"");
  counters_.Add("posfleet_txn_commit_microseconds_total", "",
                absl::ToInt64Microseconds(env_.Now() - begin));
  if (!out.ok()) {
    counters_.Add("posfleet_txn_commit_failures_total", "");
    // Back to the front, in order, for the next try; nothing was acknowledged.
    size_t i = 0;
    for (PendingBatch& b : batches) {
      for (core::Txn& t : b.upload.records) t = std::move(all[i++]);
    }
    absl::MutexLock lock(&txn_mu_);
    for (auto it = batches.rbegin(); it != batches.rend(); ++it) {
      txn_pending_.push_front(std::move(*it));
    }
    return out.status();
  }
  counters_.Add(kTxnMetric, "result=\"inserted\"", out->inserted);
  counters_.Add(kTxnMetric, "result=\"duplicate\"", out->duplicates);
  if (out->unknown_terminal > 0) {
    counters_.Add(kTxnMetric, "result=\"unknown_terminal\"", out->unknown_terminal);
  }
  if (out->inactive_terminal > 0) {
    counters_.Add(kTxnMetric, "result=\"inactive_terminal\"", out->inactive_terminal);
    counters_.Add("posfleet_link_refused_total", "reason=\"inactive\"", out->inactive_terminal);
  }
  if (out->conflicts > 0) counters_.Add(kTxnMetric, "result=\"conflict\"", out->conflicts);
  Acknowledge(batches, all, out->committed, out->conflict);
  absl::MutexLock lock(&txn_mu_);
  txn_pending_records_ -= count;
  return absl::OkStatus();
}

void LinkIngest::Acknowledge(const std::vector<PendingBatch>& batches,
                             const std::vector<core::Txn>& records,
                             const std::vector<bool>& committed,
                             const std::vector<bool>& conflict) {
  // One message per terminal, however many of its batches this commit covered.
  std::map<std::string, v1::TxnAck> acks;
  size_t i = 0;
  for (const PendingBatch& b : batches) {
    v1::TxnAck& ack = acks[b.terminal_id];
    ack.set_batch_id(std::max(ack.batch_id(), b.upload.batch_id));
    for (size_t end = i + b.upload.records.size(); i < end; ++i) {
      if (!conflict.empty() && conflict[i]) {
        v1::TxnAck::Rejection* out = ack.add_rejected();
        out->set_seq(static_cast<uint64_t>(records[i].seq));
        out->set_txn_id(records[i].txn_id);
        out->set_field("txn_id");
        out->set_reason("conflict: this transaction id is already stored with other content");
        continue;
      }
      if (!committed[i]) continue;
      v1::TxnAck::Committed* c = ack.add_committed();
      c->set_seq(static_cast<uint64_t>(records[i].seq));
      c->set_txn_id(records[i].txn_id);
    }
    for (const TxnRejection& r : b.upload.rejected) {
      v1::TxnAck::Rejection* out = ack.add_rejected();
      out->set_seq(r.seq);
      out->set_txn_id(r.txn_id);
      out->set_field(r.field);
      out->set_reason(r.reason);
    }
  }
  for (const auto& [terminal_id, ack] : acks) {
    if (ack.committed_size() == 0 && ack.rejected_size() == 0) continue;
    Publish(DownTopic(terminal_id, "ack"), ack.SerializeAsString());
  }
}

void LinkIngest::Publish(const std::string& topic, const std::string& payload) {
  const size_t n = members_.size();
  const size_t first = next_member_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < n; ++k) {
    if (members_[(first + k) % n]->Publish(topic, payload)) {
      counters_.Add("posfleet_txn_acks_total", "");
      return;
    }
  }
  // The terminal sends the batch again after its ack timeout; the replay is absorbed.
  counters_.Add("posfleet_txn_acks_unsent_total", "");
}

std::vector<bool> LinkIngest::PublishRetained(
    const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration timeout) {
  std::vector<bool> sent(messages.size(), false);
  std::vector<mqtt::delivery_token_ptr> tokens(messages.size());
  const size_t n = members_.size();
  for (size_t i = 0; i < messages.size() && n > 0; ++i) {
    const size_t first = next_member_.fetch_add(1, std::memory_order_relaxed);
    for (size_t k = 0; k < n && !tokens[i]; ++k) {
      tokens[i] =
          members_[(first + k) % n]->PublishQos1(messages[i].first, messages[i].second, true);
    }
  }
  // The broker has each one (PUBACK) once its token completes.
  const absl::Time deadline = NetworkNow() + timeout;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i]) continue;
    try {
      const absl::Duration left = std::max(deadline - NetworkNow(), absl::ZeroDuration());
      sent[i] = tokens[i]->wait_for(absl::ToChronoMilliseconds(left)) &&
                tokens[i]->get_return_code() == 0;
    } catch (const mqtt::exception&) {
      sent[i] = false;
    }
  }
  return sent;
}

bool LinkIngest::PublishControl(const std::string& payload, absl::Duration timeout) {
  const std::string topic(broker::kControlTopic);
  mqtt::delivery_token_ptr token;
  for (size_t k = 0; k < members_.size() && !token; ++k) {
    token = members_[k]->PublishQos1(topic, payload, false);
  }
  if (!token) return false;
  try {
    return token->wait_for(absl::ToChronoMilliseconds(timeout)) && token->get_return_code() == 0;
  } catch (const mqtt::exception&) {
    return false;
  }
}

absl::Status LinkIngest::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<core::StatusReport> statuses;
  std::vector<core::HealthReport> heartbeats;
  std::vector<core::ConfigReportIn> config_reports;
  {
    absl::MutexLock lock(&mu_);
    statuses.swap(statuses_);
    heartbeats.swap(heartbeats_);
    config_reports.swap(config_reports_);
  }
  if (!config_reports.empty()) {
    if (absl::Status s = store_.ApplyConfigReports(config_reports); s.ok()) {
      counters_.Add("posfleet_config_reports_applied_total", "",
                    static_cast<int64_t>(config_reports.size()));
    } else if (absl::IsUnavailable(s) || absl::IsAborted(s)) {
      // The database is away: keep them for the next flush.
      absl::MutexLock lock(&mu_);
      config_reports_.insert(config_reports_.begin(), config_reports.begin(), config_reports.end());
      return s;
    } else {
      // Anything else would fail again: dropped, so presence is not held up behind them. The
      // terminal reports again at its next connect (the retained set comes again).
      counters_.Add("posfleet_config_reports_dropped_total", "",
                    static_cast<int64_t>(config_reports.size()));
      spdlog::error("link: {} config reports dropped: {}", config_reports.size(), s.ToString());
    }
  }
  absl::StatusOr<core::HistoryWritten> written =
      store_.ApplyLinkReports(statuses, heartbeats, options_.history_every);
  if (written.ok()) {
    if (!heartbeats.empty()) {
      counters_.Add("posfleet_link_heartbeats_applied_total", "",
                    static_cast<int64_t>(heartbeats.size()));
    }
    if (written->samples > 0) {
      counters_.Add("posfleet_health_history_samples_total", "", written->samples);
    }
    if (written->failed) counters_.Add("posfleet_health_history_failures_total", "");
    if (written->refused_inactive > 0) {
      counters_.Add("posfleet_link_refused_total", "reason=\"inactive\"",
                    written->refused_inactive);
    }
    return absl::OkStatus();
  }
  // Put them back in front of whatever arrived meanwhile; the next flush tries again.
  absl::MutexLock lock(&mu_);
  statuses.insert(statuses.end(), statuses_.begin(), statuses_.end());
  heartbeats.insert(heartbeats.end(), heartbeats_.begin(), heartbeats_.end());
  statuses_.swap(statuses);
  heartbeats_.swap(heartbeats);
  return written.status();
}

}  // namespace posfleet::link

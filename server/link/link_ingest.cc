#include "server/link/link_ingest.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/link/uplink_decoder.h"

namespace posfleet::link {
namespace {

constexpr char kUplinks[] = "$share/posfleet/posfleet/v1/t/+/up/+";
constexpr char kMetric[] = "posfleet_link_messages_total";

}  // namespace

LinkIngest::LinkIngest(core::Store& store, Counters& counters, LinkIngestOptions options)
    : store_(store), counters_(counters), options_(std::move(options)) {}

LinkIngest::~LinkIngest() { Stop(); }

absl::Status LinkIngest::Start() {
  client_ = std::make_unique<mqtt::async_client>(options_.broker_url, options_.client_id);
  client_->set_callback(*this);
  auto ssl = mqtt::ssl_options_builder()
                 .trust_store(options_.ca_file)
                 .key_store(options_.cert_file)
                 .private_key(options_.key_file)
                 .enable_server_cert_auth(true)
                 .finalize();
  auto opts = mqtt::connect_options_builder()
                  .ssl(ssl)
                  .mqtt_version(MQTTVERSION_3_1_1)
                  .clean_session(true)
                  .keep_alive_interval(std::chrono::seconds(20))
                  .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(30))
                  .connect_timeout(std::chrono::seconds(10))
                  .finalize();
  try {
    client_->connect(opts)->wait();
  } catch (const mqtt::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("MQTT: cannot connect to ", options_.broker_url, ": ", e.what()));
  }
  writer_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.flush_interval)) {
      if (absl::Status s = Flush(); !s.ok()) {
        spdlog::warn("link: presence not written yet: {}", s.ToString());
      }
    }
  });
  sweeper_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.sweep_interval)) {
      absl::StatusOr<int> silent = store_.MarkSilentOffline(options_.offline_timeout);
      if (silent.ok() && *silent > 0) {
        counters_.Add("posfleet_link_silent_offline_total", "", *silent);
        spdlog::info("link: {} terminal(s) silent for {}: offline", *silent,
                     absl::FormatDuration(options_.offline_timeout));
      }
    }
  });
  return absl::OkStatus();
}

void LinkIngest::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (writer_.joinable()) writer_.join();
  if (sweeper_.joinable()) sweeper_.join();
  if (client_ && client_->is_connected()) {
    try {
      client_->disconnect()->wait_for(std::chrono::seconds(5));
    } catch (const mqtt::exception&) {
    }
  }
  (void)Flush();
}

void LinkIngest::connected(const std::string&) {
  // Also after every automatic reconnect: a clean session forgets subscriptions.
  client_->subscribe(kUplinks, 1);
  spdlog::info("link: connected to {}, reading {}", options_.broker_url, kUplinks);
}

void LinkIngest::connection_lost(const std::string& cause) {
  spdlog::warn("link: connection to the broker lost ({}); reconnecting", cause);
}

void LinkIngest::message_arrived(mqtt::const_message_ptr msg) {
  Accept(msg->get_topic(), msg->get_payload());
}

void LinkIngest::Accept(const std::string& topic, const std::string& payload) {
  absl::StatusOr<Uplink> up = DecodeUplink(topic, payload);
  if (!up.ok()) {
    const std::string reason = RejectReason(up.status());
    const size_t last = topic.rfind('/');
    const std::string kind = reason == "topic" ? "unknown" : topic.substr(last + 1);
    counters_.Add(kMetric, absl::StrCat("kind=\"", kind, "\",result=\"", reason, "\""));
    spdlog::debug("link: dropped a message on {}: {}", topic.substr(0, 128), up.status().message());
    return;
  }
  counters_.Add(kMetric, absl::StrCat("kind=\"", KindName(up->kind), "\",result=\"ok\""));
  absl::MutexLock lock(&mu_);
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

absl::Status LinkIngest::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<core::StatusReport> statuses;
  std::vector<core::HealthReport> heartbeats;
  {
    absl::MutexLock lock(&mu_);
    statuses.swap(statuses_);
    heartbeats.swap(heartbeats_);
  }
  absl::StatusOr<core::HistoryWritten> written =
      store_.ApplyLinkReports(statuses, heartbeats, options_.history_every);
  if (written.ok()) {
    if (written->samples > 0) {
      counters_.Add("posfleet_health_history_samples_total", "", written->samples);
    }
    if (written->failed) counters_.Add("posfleet_health_history_failures_total", "");
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

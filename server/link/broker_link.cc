#include "server/link/broker_link.h"

#include <mqtt/async_client.h>

#include "absl/strings/str_cat.h"
#include "broker/access_rules.h"
#include "common/env.h"
#include "common/link_limits.h"
#include "common/link_topics.h"
#include "common/logging.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::link {

// One MQTT connection of the replica, a member of the shared subscription.
class BrokerLink::Member : public mqtt::callback {
 public:
  Member(BrokerLink& owner, const std::string& client_id)
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
    const BrokerLinkOptions& o = owner_.options_;
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
    owner_.on_uplink_(msg->get_topic(), msg->get_payload());
  }

  BrokerLink& owner_;
  std::unique_ptr<mqtt::async_client> client_;
  Subscribed subscribed_{*this};
};

BrokerLink::BrokerLink(Counters& counters, BrokerLinkOptions options, Handler on_uplink)
    : counters_(counters), options_(std::move(options)), on_uplink_(std::move(on_uplink)) {}

BrokerLink::~BrokerLink() { Stop(); }

absl::Status BrokerLink::Start() {
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    members_.push_back(std::make_unique<Member>(*this, absl::StrCat(options_.client_id, "-", i)));
    if (absl::Status s = members_.back()->Connect(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void BrokerLink::Stop() {
  for (auto& m : members_) m->Disconnect();
}

bool BrokerLink::Publish(const std::string& topic, const std::string& payload) {
  const size_t n = members_.size();
  const size_t first = next_member_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < n; ++k) {
    if (members_[(first + k) % n]->Publish(topic, payload)) return true;
  }
  return false;
}

namespace {

// Whether the broker took (PUBACK) what `token` stands for by `deadline`.
bool Taken(const mqtt::delivery_token_ptr& token, absl::Time deadline) {
  if (!token) return false;
  try {
    const absl::Duration left = std::max(deadline - NetworkNow(), absl::ZeroDuration());
    return token->wait_for(absl::ToChronoMilliseconds(left)) && token->get_return_code() == 0;
  } catch (const mqtt::exception&) {
    return false;
  }
}

}  // namespace

mqtt::delivery_token_ptr BrokerLink::PublishQos1(const std::string& topic,
                                                 const std::string& payload, bool retained) {
  const size_t n = members_.size();
  const size_t first = next_member_.fetch_add(1, std::memory_order_relaxed);
  mqtt::delivery_token_ptr token;
  for (size_t k = 0; k < n && !token; ++k) {
    token = members_[(first + k) % n]->PublishQos1(topic, payload, retained);
  }
  return token;
}

std::vector<bool> BrokerLink::PublishRetained(
    const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration timeout) {
  std::vector<mqtt::delivery_token_ptr> tokens;
  tokens.reserve(messages.size());
  for (const auto& [topic, payload] : messages) {
    tokens.push_back(PublishQos1(topic, payload, /*retained=*/true));
  }
  // The broker has each one (PUBACK) once its token completes.
  const absl::Time deadline = NetworkNow() + timeout;
  std::vector<bool> sent(messages.size(), false);
  for (size_t i = 0; i < tokens.size(); ++i) sent[i] = Taken(tokens[i], deadline);
  return sent;
}

bool BrokerLink::PublishControl(const std::string& payload, absl::Duration timeout) {
  return Taken(PublishQos1(std::string(broker::kControlTopic), payload, /*retained=*/false),
               NetworkNow() + timeout);
}

}  // namespace posfleet::link

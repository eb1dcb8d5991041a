// deploy/mosquitto against a real broker: mutual TLS, identity from the certificate, and the ACL
// that keeps each terminal inside its own topics. Absence of a message is proven with a sentinel
// sent afterwards on the same connection: MQTT keeps per-connection order, so once the sentinel
// has arrived, the earlier message would have too.

#include <gtest/gtest.h>
#include <mqtt/client.h>

#include <chrono>

#include "tests/support/test_broker.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::ClientCert;
using testing::TestBroker;

// One broker for the whole binary, stopped and removed when it exits.
TestBroker& Broker() {
  static TestBroker* broker = [] {
    auto* b = new TestBroker();
    std::atexit([] { delete broker; });
    return b;
  }();
  return *broker;
}

std::unique_ptr<mqtt::client> Connect(const ClientCert& cert, const std::string& client_id,
                                      int timeout_seconds = 5) {
  return Broker().Connect(cert, client_id, timeout_seconds);
}

void Publish(mqtt::client& c, const std::string& topic, const std::string& payload) {
  c.publish(mqtt::make_message(topic, payload, 1, false));
}

// Receives until a message on `sentinel_topic` arrives; returns the topics seen before it.
std::vector<std::string> TopicsBefore(mqtt::client& c, const std::string& sentinel_topic) {
  std::vector<std::string> topics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    mqtt::const_message_ptr msg;
    if (!c.try_consume_message_for(&msg, std::chrono::milliseconds(100)) || !msg) continue;
    if (msg->get_topic() == sentinel_topic) return topics;
    topics.push_back(msg->get_topic());
  }
  ADD_FAILURE() << "sentinel " << sentinel_topic << " never arrived";
  return topics;
}

class MosquittoAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = Connect(Broker().Issue("posfleet-server"), "posfleet-server-" + Suffix());
    server_->start_consuming();
    server_->subscribe("$share/posfleet/posfleet/v1/t/+/up/#", 1);
    a_ = Connect(Broker().Issue("trm_a"), "trm_a");
    a_->start_consuming();
  }
  static std::string Suffix() { return std::to_string(++counter_); }
  static inline int counter_ = 0;

  std::unique_ptr<mqtt::client> server_, a_;
};

TEST_F(MosquittoAclTest, ATerminalPublishesOnlyItsOwnUplinks) {
  Publish(*a_, "posfleet/v1/t/trm_b/up/heartbeat", "forged");    // B's uplink
  Publish(*a_, "posfleet/v1/t/trm_a/down/cmd", "self-command");  // a downlink
  Publish(*a_, "elsewhere", "x");
  Publish(*a_, "posfleet/v1/t/trm_a/up/heartbeat", "sentinel");
  EXPECT_TRUE(TopicsBefore(*server_, "posfleet/v1/t/trm_a/up/heartbeat").empty());
}

TEST_F(MosquittoAclTest, ATerminalReadsOnlyItsOwnDownlinks) {
  // Mosquitto 2's ACL file grants the SUBSCRIBE itself and enforces "read" on every delivery, so
  // what is checked here is that nothing arrives: not B's downlink, not B's uplink through a
  // wildcard, not anything through "#".
  for (const char* filter : {"posfleet/v1/t/trm_b/down/#", "#", "posfleet/v1/t/+/up/#"}) {
    try {
      a_->subscribe(filter, 1);
    } catch (const mqtt::exception&) {
      // Refused outright is fine too.
    }
  }
  a_->subscribe("posfleet/v1/t/trm_a/down/#", 1);
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  Publish(*server_, "posfleet/v1/t/trm_b/down/cmd", "for b");
  Publish(*b, "posfleet/v1/t/trm_b/up/heartbeat", "b's health");
  // B's uplink reaches the server before the sentinel is sent, so A would have seen it by then.
  ASSERT_TRUE(TopicsBefore(*server_, "posfleet/v1/t/trm_b/up/heartbeat").empty());
  Publish(*server_, "posfleet/v1/t/trm_a/down/cmd", "sentinel");
  EXPECT_TRUE(TopicsBefore(*a_, "posfleet/v1/t/trm_a/down/cmd").empty());
}

TEST_F(MosquittoAclTest, TheServerReadsAllUplinksThroughTheSharedSubscription) {
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  Publish(*b, "posfleet/v1/t/trm_b/up/status", "online");
  Publish(*a_, "posfleet/v1/t/trm_a/up/status", "online");
  std::set<std::string> seen;
  ASSERT_TRUE(testing::WaitFor([&] {
    mqtt::const_message_ptr msg;
    if (server_->try_consume_message_for(&msg, std::chrono::milliseconds(50)) && msg) {
      seen.insert(msg->get_topic());
    }
    return seen.size() == 2;
  }));
  EXPECT_TRUE(seen.contains("posfleet/v1/t/trm_b/up/status"));
}

TEST_F(MosquittoAclTest, NoCertificateOrAForeignOneIsRefused) {
  EXPECT_THROW(Connect({}, "anonymous", 2), mqtt::exception);
  auto other = pki::CreateCa("another CA", absl::Hours(1));
  ASSERT_TRUE(other.ok());
  EXPECT_THROW(Connect(Broker().Issue("trm_a", &*other), "trm_a-forged", 2), mqtt::exception);
}

TEST_F(MosquittoAclTest, ARevokedCertificateIsRefusedAfterReload) {
  const ClientCert c = Broker().Issue("trm_c");
  Connect(c, "trm_c")->disconnect();
  Broker().Revoke(c.serial);
  // The reload is asynchronous (SIGHUP): wait until new connections are refused.
  EXPECT_TRUE(testing::WaitFor([&] {
    try {
      Connect(c, "trm_c", 2)->disconnect();
      return false;
    } catch (const mqtt::exception&) {
      return true;
    }
  }));
  // Other terminals are unaffected. The first refusal of trm_c can come while the broker is still
  // reloading, when any handshake may fail once; trm_d must get in within the deadline.
  const ClientCert d = Broker().Issue("trm_d");
  EXPECT_TRUE(testing::WaitFor([&] {
    try {
      Connect(d, "trm_d", 2)->disconnect();
      return true;
    } catch (const mqtt::exception&) {
      return false;
    }
  }));
}

}  // namespace
}  // namespace posfleet

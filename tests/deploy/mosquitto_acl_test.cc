// deploy/mosquitto against a real broker with posfleet's plugin (broker/): mutual TLS, identity and
// client id from the certificate, and the rule that keeps each terminal inside its own topics.
// Absence of a message is proven with a sentinel sent afterwards on the same connection: MQTT keeps
// per-connection order, so once the sentinel has arrived, the earlier message would have too.

#include <gtest/gtest.h>
#include <mqtt/client.h>

#include <chrono>

#include "tests/support/test_broker.h"
#include "tests/support/test_postgres.h"
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

// Whether the broker refused subscribing to `filter` (SUBACK 0x80, which Paho may also throw as).
bool SubscribeRefused(mqtt::client& c, const std::string& filter) {
  try {
    const mqtt::subscribe_response r = c.subscribe(filter, 1);
    return !r.get_reason_codes().empty() && r.get_reason_codes()[0] >= 0x80;
  } catch (const mqtt::exception&) {
    return true;
  }
}

bool Refused(const ClientCert& cert, const std::string& client_id) {
  try {
    // Long enough for a loaded machine: a refusal comes at once, while a short timeout would
    // count a slow accepted connection as refused.
    Connect(cert, client_id, 5)->disconnect();
    return false;
  } catch (const mqtt::exception&) {
    return true;
  }
}

TEST_F(MosquittoAclTest, ATerminalReadsOnlyItsOwnDownlinks) {
  // Refused at SUBSCRIBE: another terminal's downlinks, any wildcard reaching beyond its own
  // topics, and shared subscriptions.
  for (const char* filter :
       {"posfleet/v1/t/trm_b/down/#", "#", "posfleet/v1/t/+/up/#", "posfleet/v1/t/+/down/#",
        "+/v1/t/trm_a/down/#", "$share/posfleet/posfleet/v1/t/+/up/+", "$share/x/#", "$SYS/#"}) {
    EXPECT_TRUE(SubscribeRefused(*a_, filter)) << filter;
  }
  EXPECT_FALSE(SubscribeRefused(*a_, "posfleet/v1/t/trm_a/down/#"));
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  Publish(*server_, "posfleet/v1/t/trm_b/down/cmd", "for b");
  Publish(*b, "posfleet/v1/t/trm_b/up/heartbeat", "b's health");
  // B's uplink reaches the server before the sentinel is sent, so A would have seen it by then.
  ASSERT_TRUE(TopicsBefore(*server_, "posfleet/v1/t/trm_b/up/heartbeat").empty());
  Publish(*server_, "posfleet/v1/t/trm_a/down/cmd", "sentinel");
  EXPECT_TRUE(TopicsBefore(*a_, "posfleet/v1/t/trm_a/down/cmd").empty());
}

TEST_F(MosquittoAclTest, ATerminalCannotJoinTheServersSharedSubscription) {
  // Six intruding connections used to take five sevenths of the fleet's uplinks away from the
  // server; now every one of their shared subscriptions is refused and the server sees all.
  std::vector<std::unique_ptr<mqtt::client>> intruders;
  for (int i = 0; i < 6; ++i) {
    const std::string id = "trm_intruder" + std::to_string(i) + Suffix();
    intruders.push_back(Connect(Broker().Issue(id), id));
    EXPECT_TRUE(SubscribeRefused(*intruders.back(), "$share/posfleet/posfleet/v1/t/+/up/+"));
    EXPECT_TRUE(SubscribeRefused(*intruders.back(), "$share/posfleet/posfleet/v1/t/+/up/#"));
  }
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  constexpr int kMessages = 70;
  for (int i = 0; i < kMessages; ++i) Publish(*b, "posfleet/v1/t/trm_b/up/heartbeat", "hb");
  int seen = 0;
  EXPECT_TRUE(testing::WaitFor([&] {
    mqtt::const_message_ptr msg;
    while (server_->try_consume_message_for(&msg, std::chrono::milliseconds(20)) && msg) ++seen;
    return seen == kMessages;
  })) << seen;
}

TEST_F(MosquittoAclTest, AClientIdIsBoundToTheCertificate) {
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  const ClientCert a = Broker().Issue("trm_a");
  // Neither another terminal's id nor the server's can be taken, so nobody is knocked off.
  EXPECT_TRUE(Refused(a, "trm_b"));
  EXPECT_TRUE(Refused(a, "posfleet-server-1"));
  EXPECT_TRUE(Refused(a, "trm_a-2"));
  EXPECT_TRUE(Refused(Broker().Issue("posfleet-server"), "trm_b"));
  EXPECT_TRUE(b->is_connected());
  Publish(*b, "posfleet/v1/t/trm_b/up/status", "still here");
  const std::vector<std::string> seen = TopicsBefore(*server_, "posfleet/v1/t/trm_b/up/status");
  EXPECT_TRUE(seen.empty()) << seen.size() << " first " << (seen.empty() ? "" : seen[0]);
}

TEST_F(MosquittoAclTest, OnlyClientCertificatesOfTerminalsAndTheServerLogIn) {
  // The broker's own certificate is for serverAuth only; a server-only certificate with a
  // terminal's name neither; and a client certificate with any other name is no identity.
  EXPECT_TRUE(Refused(Broker().broker_cert(), "broker"));
  EXPECT_TRUE(Refused(Broker().Issue("trm_srv", nullptr, pki::Usage::kServer), "trm_srv"));
  EXPECT_TRUE(Refused(Broker().Issue("broker"), "broker"));
  EXPECT_TRUE(Refused(Broker().Issue("admin"), "admin"));
  EXPECT_FALSE(Refused(Broker().Issue("trm_ok"), "trm_ok"));
}

// Renewal leaves the previous certificate valid until it expires. Once the terminal has connected
// with its renewed one (which starts later), the old one is refused, and stays refused after a
// broker restart: a copy of the old key is worthless as soon as the terminal moves on.
TEST_F(MosquittoAclTest, AnOlderCertificateIsRefusedOnceTheTerminalUsesItsRenewedOne) {
  const ClientCert old_cert = Broker().Issue("trm_renewed");
  const ClientCert renewed =
      Broker().Issue("trm_renewed", nullptr, pki::Usage::kClient, absl::Now() - absl::Seconds(60));
  EXPECT_FALSE(Refused(old_cert, "trm_renewed"));  // before the renewal is in use: still good
  EXPECT_FALSE(Refused(renewed, "trm_renewed"));
  EXPECT_TRUE(Refused(old_cert, "trm_renewed"));
  // Another terminal's certificates are not affected.
  EXPECT_FALSE(Refused(
      Broker().Issue("trm_other", nullptr, pki::Usage::kClient, absl::Now() - absl::Seconds(290)),
      "trm_other"));
  Broker().Stop();
  Broker().Start();
  server_ = Connect(Broker().Issue("posfleet-server"), "posfleet-server-" + Suffix());
  EXPECT_TRUE(Refused(old_cert, "trm_renewed"));
  EXPECT_FALSE(Refused(renewed, "trm_renewed"));
}

// The broker's TLS 1.2 offered CBC and SHA-1 suites too; now only AEAD with forward secrecy.
TEST_F(MosquittoAclTest, TheBrokerSpeaksOnlyAeadSuites) {
  const std::string address = Broker().address();  // ssl://127.0.0.1:PORT
  const std::string connect = address.substr(address.find("//") + 2);
  const ClientCert me = Broker().Issue("trm_tls");
  auto handshake = [&](const std::string& cipher) {
    return testing::Run("echo | timeout 10 openssl s_client -connect " + connect +
                        " -tls1_2 -cipher " + cipher + " -CAfile " + Broker().ca_file() +
                        " -cert " + me.cert_file + " -key " + me.key_file +
                        " -verify_return_error >/dev/null 2>&1") == 0;
  };
  EXPECT_TRUE(handshake("ECDHE-ECDSA-AES128-GCM-SHA256"));
  EXPECT_TRUE(handshake("ECDHE-ECDSA-CHACHA20-POLY1305"));
  for (const char* cbc : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                          "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"}) {
    EXPECT_FALSE(handshake(cbc)) << cbc;
  }
}

TEST_F(MosquittoAclTest, AnOversizedPacketIsRefused) {
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  try {
    Publish(*b, "posfleet/v1/t/trm_b/up/txn", std::string(300 * 1024, 'x'));
  } catch (const mqtt::exception&) {
    // The broker closes the connection instead of acknowledging.
  }
  EXPECT_TRUE(testing::WaitFor([&] { return !b->is_connected(); }));
  // The largest legitimate uplink still passes.
  Publish(*a_, "posfleet/v1/t/trm_a/up/txn", std::string(64 * 1024, 'x'));
  std::vector<size_t> sizes;
  ASSERT_TRUE(testing::WaitFor([&] {
    mqtt::const_message_ptr msg;
    if (server_->try_consume_message_for(&msg, std::chrono::milliseconds(50)) && msg) {
      sizes.push_back(msg->get_payload().size());
    }
    return !sizes.empty();
  }));
  EXPECT_EQ(sizes, std::vector<size_t>{64 * 1024});
}

// The broker keeps retained messages (a terminal's status) on disk: one that holds a card number
// is refused, so the previous one stays.
TEST_F(MosquittoAclTest, ARetainedMessageWithACardNumberIsNotKept) {
  a_->publish(mqtt::make_message("posfleet/v1/t/trm_a/up/status", "v1 clean", 1, true));
  a_->publish(
      mqtt::make_message("posfleet/v1/t/trm_a/up/status", "v2 4111.1111.1111.1111", 1, true));
  auto reader = Connect(Broker().Issue("posfleet-server"), "posfleet-server-r" + Suffix());
  reader->start_consuming();
  reader->subscribe("posfleet/v1/t/trm_a/up/status", 1);
  mqtt::const_message_ptr msg;
  ASSERT_TRUE(reader->try_consume_message_for(&msg, std::chrono::seconds(5)) && msg);
  EXPECT_EQ(msg->get_payload_str(), "v1 clean");
  // Cleared, so that no later test's subscription receives it.
  a_->publish(mqtt::make_message("posfleet/v1/t/trm_a/up/status", "", 1, true));
}

TEST_F(MosquittoAclTest, TheServerDisconnectsATerminalThroughTheControlTopic) {
  auto b = Connect(Broker().Issue("trm_b"), "trm_b");
  auto c = Connect(Broker().Issue("trm_c"), "trm_c");
  // A terminal cannot use the control topic: B stays.
  Publish(*a_, "$CONTROL/posfleet/v1", "disconnect trm_b");
  Publish(*a_, "posfleet/v1/t/trm_a/up/status", "sentinel");
  ASSERT_TRUE(TopicsBefore(*server_, "posfleet/v1/t/trm_a/up/status").empty());
  EXPECT_TRUE(b->is_connected());
  // The server can: C goes, B stays.
  Publish(*server_, "$CONTROL/posfleet/v1", "disconnect trm_c\n");
  EXPECT_TRUE(testing::WaitFor([&] { return !c->is_connected(); }));
  Publish(*b, "posfleet/v1/t/trm_b/up/status", "still here");
  const std::vector<std::string> seen = TopicsBefore(*server_, "posfleet/v1/t/trm_b/up/status");
  EXPECT_TRUE(seen.empty()) << seen.size() << " first " << (seen.empty() ? "" : seen[0]);
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

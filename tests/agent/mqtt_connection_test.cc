// The agent's MQTT transport against a real Mosquitto with mutual TLS: QoS 1 publishing, a clean
// goodbye that discards the Will, a kill (DISCONNECT 0x04 or a closed socket) that makes the
// broker publish it, refusals, a session taken over, and 1,500 connections on one loop thread
// (past select()'s 1,024 descriptors).

#include "agent/mqtt_connection.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/support/test_broker.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet::agent {
namespace {

using testing::WaitFor;

// The 1,500 connections need descriptors in this process and in the broker it starts.
const bool kFdsRaised = [] {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = std::min<rlim_t>(r.rlim_max, 8192);
  return setrlimit(RLIMIT_NOFILE, &r) == 0;
}();

// Everything published under posfleet/v1/t/, seen through the server's shared subscription.
class Listener : public mqtt::callback {
 public:
  explicit Listener(testing::TestBroker& broker, const testing::ClientCert& cert)
      : client_(broker.Connect(cert, "posfleet-server-listener", 5, this)) {
    client_->subscribe("posfleet/v1/t/+/up/#", 1);
  }
  // Disconnects before the members go: a message arriving meanwhile would find them destroyed.
  ~Listener() override {
    try {
      client_->disconnect();
    } catch (const mqtt::exception&) {
    }
    client_.reset();
  }
  void message_arrived(mqtt::const_message_ptr m) override {
    absl::MutexLock lock(&mu_);
    seen_.push_back(m->get_topic() + " " + m->get_payload_str());
  }
  bool Saw(const std::string& text) {
    absl::MutexLock lock(&mu_);
    for (const std::string& s : seen_) {
      if (s.find(text) != std::string::npos) return true;
    }
    return false;
  }
  size_t Count(const std::string& text) {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const std::string& s : seen_) n += s.find(text) != std::string::npos;
    return n;
  }

 private:
  std::unique_ptr<mqtt::client> client_;
  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

class MqttConnectionTest : public ::testing::Test {
 protected:
  MqttConnectionTest()
      : terminal_(broker_.Issue("trm_a")), listener_(broker_, broker_.Issue("posfleet-server")) {}

  // A connection as terminal "trm_{name}" ('-' becomes '_'), with a certificate of its own: the
  // broker binds the client id to the certificate's identity.
  MqttOptions Options(const std::string& name) {
    std::string id = "trm_" + name;
    std::replace(id.begin(), id.end(), '-', '_');
    return Options(id, broker_.Issue(id));
  }
  MqttOptions Options(const std::string& client_id, const testing::ClientCert& cert) {
    MqttOptions o;
    EXPECT_TRUE(ParseBrokerAddress(broker_.address(), &o.host, &o.port).ok());
    o.client_id = client_id;
    o.ca_file = broker_.ca_file();
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    o.keep_alive = absl::Seconds(30);
    o.will_topic = "posfleet/v1/t/" + client_id + "/up/status";
    o.will_payload = "will-of-" + client_id;
    return o;
  }

  // Publishes a sentinel on another connection and waits for it: whatever the broker was going
  // to deliver before it has been delivered.
  void Settle() {
    const std::string sentinel = absl::StrCat("sentinel-", ++sentinels_);
    MqttConnection c(loop_, nullptr);
    ASSERT_TRUE(c.Connect(Options("trm_a", terminal_), absl::Seconds(10)).ok());
    ASSERT_TRUE(
        c.Publish("posfleet/v1/t/trm_a/up/event", sentinel, 1, false, absl::Seconds(5)).ok());
    ASSERT_TRUE(WaitFor([&] { return listener_.Saw(sentinel); }));
    c.Disconnect(false);
  }

  testing::TestBroker broker_;
  testing::ClientCert terminal_;
  Listener listener_;
  MqttLoop loop_;
  int sentinels_ = 0;
};

TEST_F(MqttConnectionTest, PublishesWithQos1AndACleanGoodbyeDiscardsTheWill) {
  MqttConnection c(loop_, nullptr);
  absl::Status s = c.Connect(Options("a-1"), absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(c.connected());
  s = c.Publish("posfleet/v1/t/trm_a_1/up/heartbeat", "beat", 1, false, absl::Seconds(5));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(WaitFor([&] { return listener_.Saw("up/heartbeat beat"); }));
  c.Disconnect(/*with_will=*/false);
  EXPECT_FALSE(c.connected());
  Settle();
  EXPECT_FALSE(listener_.Saw("will-of-trm_a_1"));
  // After the goodbye nothing more can be sent.
  EXPECT_TRUE(absl::IsUnavailable(c.Publish("posfleet/v1/t/trm_a_1/up/heartbeat", "x", 1, false)));
}

TEST_F(MqttConnectionTest, AKillOrAClosedSocketMakesTheBrokerPublishTheWill) {
  {
    MqttConnection c(loop_, nullptr);
    ASSERT_TRUE(c.Connect(Options("killed"), absl::Seconds(10)).ok());
    c.Disconnect(/*with_will=*/true);  // MQTT 5 reason code 0x04
  }
  EXPECT_TRUE(WaitFor([&] { return listener_.Saw("up/status will-of-trm_killed"); }));
  {
    MqttConnection c(loop_, nullptr);
    ASSERT_TRUE(c.Connect(Options("dropped"), absl::Seconds(10)).ok());
  }  // destroyed while connected: the socket closes without a DISCONNECT
  EXPECT_TRUE(WaitFor([&] { return listener_.Saw("up/status will-of-trm_dropped"); }));
}

TEST_F(MqttConnectionTest, RefusalsAreErrorsNotCrashes) {
  // A certificate from another CA fails the TLS handshake.
  auto other = pki::CreateCa("not the fleet", absl::Hours(1));
  MqttConnection foreign(loop_, nullptr);
  absl::Status s =
      foreign.Connect(Options("trm_a", broker_.Issue("trm_a", &*other)), absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  // Refused and unreachable say which they are.
  EXPECT_NE(s.message().find("refused this certificate"), absl::string_view::npos) << s;
  EXPECT_EQ(s.message().find("unreachable"), absl::string_view::npos) << s;
  // Nothing listens there.
  MqttOptions nowhere = Options("trm_a", terminal_);
  nowhere.port = testing::FreePort();
  MqttConnection closed(loop_, nullptr);
  s = closed.Connect(nowhere, absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("broker unreachable"), absl::string_view::npos) << s;
  // Malformed addresses.
  std::string host;
  int port = 0;
  EXPECT_FALSE(ParseBrokerAddress("ssl://nohost", &host, &port).ok());
  EXPECT_FALSE(ParseBrokerAddress("ssl://h:70000", &host, &port).ok());
  EXPECT_TRUE(ParseBrokerAddress("mqtts://broker.example:8883", &host, &port).ok());
  EXPECT_EQ(host, "broker.example");
  EXPECT_EQ(port, 8883);
}

TEST_F(MqttConnectionTest, ASessionTakenOverReportsTheLoss) {
  std::atomic<int> lost{0};
  MqttConnection first(loop_, [&](const std::string&) { ++lost; });
  ASSERT_TRUE(first.Connect(Options("trm_a", terminal_), absl::Seconds(10)).ok());
  MqttConnection second(loop_, nullptr);
  ASSERT_TRUE(second.Connect(Options("trm_a", terminal_), absl::Seconds(10)).ok());
  EXPECT_TRUE(WaitFor([&] { return lost == 1; }));
  EXPECT_FALSE(first.connected());
  EXPECT_TRUE(second.connected());
}

int OpenDescriptors() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    n += !entry.is_directory();
  return n;
}

// Where a process may hold 20,000 descriptors (this project's CI machine), 10,000 simulated
// terminals fit only at one descriptor each: libmosquitto's own socket pair must not be made.
TEST_F(MqttConnectionTest, AConnectionCostsOneDescriptor) {
  const int before = OpenDescriptors();
  std::vector<std::unique_ptr<MqttConnection>> all;
  for (int i = 0; i < 50; ++i) {
    all.push_back(std::make_unique<MqttConnection>(loop_, nullptr));
    MqttOptions o = Options(absl::StrCat("fd-", i));
    ASSERT_TRUE(all.back()->Connect(o, absl::Seconds(10)).ok());
  }
  EXPECT_EQ(OpenDescriptors() - before, 50);
  // Elsewhere in the process socketpair() works as ever.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[0]);
  close(sv[1]);
  all.clear();
  EXPECT_EQ(OpenDescriptors(), before);
}

TEST_F(MqttConnectionTest, OneLoopCarriesFifteenHundredConnections) {
  ASSERT_TRUE(kFdsRaised);
  constexpr int kConnections = 1500;
  std::vector<std::unique_ptr<MqttConnection>> all;
  std::vector<MqttOptions> options;  // certificates issued up front, on this thread
  for (int i = 0; i < kConnections; ++i) {
    all.push_back(std::make_unique<MqttConnection>(loop_, nullptr));
    options.push_back(Options(absl::StrCat("many-", i)));
    options.back().will_topic.clear();
  }
  // Connect from a few threads at once, as the simulator's agents do.
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kConnections; i += 8) {
        if (!all[i]->Connect(options[i], absl::Seconds(60)).ok() ||
            !all[i]
                 ->Publish(absl::StrCat("posfleet/v1/t/", options[i].client_id, "/up/heartbeat"),
                           absl::StrCat("n", i, "."), 1, false, absl::Seconds(30))
                 .ok()) {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(loop_.size(), static_cast<size_t>(kConnections));
  EXPECT_TRUE(WaitFor([&] { return listener_.Count("up/heartbeat n") == kConnections; }))
      << listener_.Count("up/heartbeat n");
  all.clear();
  EXPECT_EQ(loop_.size(), 0u);
}

}  // namespace
}  // namespace posfleet::agent

// The link ingest against a real broker and a real database: presence from status messages and
// Wills, health from heartbeats, stale Wills ignored, silence detected, malformed uplinks counted
// and skipped while good traffic continues.

#include "server/link/link_ingest.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <pqxx/pqxx>

#include "posfleet/v1/link.pb.h"
#include "server/jobs/offline_detector.h"
#include "server/link/disconnect_publisher.h"
#include "tests/support/api_harness.h"
#include "tests/support/test_broker.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::ApiHarness;
using testing::ClientCert;
using testing::TestBroker;

std::string StatusBytes(const std::string& id, bool online, uint64_t session) {
  v1::Status s;
  s.set_terminal_id(id);
  s.set_online(online);
  s.set_session(session);
  s.set_agent_version("0.1.0");
  return s.SerializeAsString();
}

std::string HeartbeatBytes(const std::string& id, uint64_t session, int battery) {
  v1::Heartbeat hb;
  hb.set_terminal_id(id);
  hb.set_session(session);
  hb.set_battery_percent(battery);
  hb.set_paper(v1::Heartbeat::PAPER_OK);
  hb.set_temperature_c(38);
  (*hb.mutable_versions())["agent"] = "0.1.0";
  return hb.SerializeAsString();
}

class LinkIngestTest : public ::testing::Test {
 protected:
  LinkIngestTest() : ca_(*pki::CreateCa("fleet CA", absl::Hours(24))), broker_(&ca_), h_(&ca_) {}

  void SetUp() override {
    const v1::Tenant tenant = h_.CreateTenant("acme");
    merchant_ = h_.CreateMerchant(tenant.id(), "M1").id();
    id_ = h_.CreateTerminal(h_.admin, merchant_, "SN1").id();
    h_.Enroll(id_, "SN1");  // the link accepts active terminals only
    agent_cert_ = broker_.Issue(id_);
    server_cert_ = broker_.Issue("posfleet-server");
    ASSERT_TRUE(h_.store->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24)).ok());
  }

  void StartIngest() {
    link::LinkIngestOptions o;
    o.broker.broker_url = broker_.address();
    o.broker.ca_file = broker_.ca_file();
    o.broker.cert_file = server_cert_.cert_file;
    o.broker.key_file = server_cert_.key_file;
    o.broker.client_id = "posfleet-server-test";
    o.presence.flush_interval = absl::Milliseconds(50);
    o.presence.history_every = absl::ZeroDuration();
    ingest_ = std::make_unique<link::LinkIngest>(*h_.store, counters_, RealEnv(), o);
    absl::Status s = ingest_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // Partitions for this month, the ingest, and the terminal's connection, its acks going to
  // `acks`.
  std::unique_ptr<mqtt::client> StartWithTransactions(mqtt::callback* acks) {
    EXPECT_TRUE(h_.store->MaintainTransactions(absl::Now(), 1, 2).ok());
    StartIngest();
    auto agent = broker_.Connect(agent_cert_, id_, 5, acks);
    agent->subscribe("posfleet/v1/t/" + id_ + "/down/ack", 0);
    return agent;
  }

  void Publish(mqtt::client& c, const std::string& kind, const std::string& payload,
               bool retained = false) {
    c.publish(mqtt::make_message("posfleet/v1/t/" + id_ + "/up/" + kind, payload, 1, retained));
  }

  std::optional<core::Presence> Presence() {
    auto t = h_.store->GetTerminal(core::Scope{}, id_);
    return t.ok() ? t->presence : std::nullopt;
  }
  bool Online() { return Presence() && Presence()->online; }
  int Battery() {
    auto p = Presence();
    return p && p->health ? p->health->battery_percent : -100;
  }
  int64_t Count(const std::string& labels) {
    return counters_.Get("posfleet_link_messages_total", labels);
  }

  pki::CertAndKey ca_;
  TestBroker broker_;
  ApiHarness h_;
  Counters counters_;
  std::string merchant_, id_;
  ClientCert agent_cert_, server_cert_;
  std::unique_ptr<link::LinkIngest> ingest_;
};

TEST_F(LinkIngestTest, StatusAndHeartbeatMakeATerminalOnlineWithHealth) {
  StartIngest();
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "status", StatusBytes(id_, true, 1), /*retained=*/true);
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 57));
  ASSERT_TRUE(testing::WaitFor([&] { return Online() && Battery() == 57; }));
  EXPECT_EQ(Presence()->agent_version, "0.1.0");
  EXPECT_EQ(Presence()->health->versions.at("agent"), "0.1.0");
  // Through the API as well.
  v1::GetTerminalRequest r;
  r.set_id(id_);
  v1::Terminal t;
  ASSERT_TRUE(h_.terminals->GetTerminal(ApiHarness::As(h_.admin).get(), r, &t).ok());
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"ok\""), 1);
  // And the heartbeat is in the terminal's health history.
  auto history = h_.store->ListHealthHistory(core::Scope{}, id_, {}, {}, {0, 10});
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->items.size(), 1u);
  EXPECT_EQ(history->items[0].health.battery_percent, 57);
  EXPECT_EQ(history->items[0].session, 1);
  EXPECT_EQ(counters_.Get("posfleet_health_history_samples_total", ""), 1);
}

TEST_F(LinkIngestTest, AKilledAgentGoesOfflineThroughItsWill) {
  StartIngest();
  {
    auto agent = broker_.Connect(agent_cert_, id_);
    Publish(*agent, "status", StatusBytes(id_, true, 1));
    agent->disconnect();
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Online(); }));
  // The agent's session-1 connection, with its Will, held by a separate process.
  const std::string out = "/tmp/posfleet-will-" + std::to_string(getpid());
  const std::string will = StatusBytes(id_, false, 1);
  const std::string port = broker_.address().substr(broker_.address().rfind(':') + 1);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen(out.c_str(), "w", stdout);
    execlp("mosquitto_sub", "mosquitto_sub", "-h", "127.0.0.1", "-p", port.c_str(), "--cafile",
           broker_.ca_file().c_str(), "--cert", agent_cert_.cert_file.c_str(), "--key",
           agent_cert_.key_file.c_str(), "-i", id_.c_str(), "-q", "1", "-t",
           ("posfleet/v1/t/" + id_ + "/down/#").c_str(), "--will-topic",
           ("posfleet/v1/t/" + id_ + "/up/status").c_str(), "--will-payload", will.c_str(),
           "--will-qos", "1", "--will-retain", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until it is connected and subscribed: it prints what the server sends it.
  auto server = broker_.Connect(server_cert_, "posfleet-server-test-pub");
  ASSERT_TRUE(testing::WaitFor([&] {
    server->publish(mqtt::make_message("posfleet/v1/t/" + id_ + "/down/cmd", "ping", 1, false));
    std::ifstream in(out);
    std::string line;
    return static_cast<bool>(std::getline(in, line));
  }));
  EXPECT_TRUE(Online());
  kill(pid, SIGKILL);  // no DISCONNECT: the broker publishes the Will
  waitpid(pid, nullptr, 0);
  EXPECT_TRUE(testing::WaitFor([&] { return !Online(); }));
  std::remove(out.c_str());

  // Reconnecting (session 2) brings it back.
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "status", StatusBytes(id_, true, 2));
  EXPECT_TRUE(testing::WaitFor([&] { return Online(); }));
}

TEST_F(LinkIngestTest, AStaleWillFromAnEarlierSessionIsIgnored) {
  StartIngest();
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "status", StatusBytes(id_, true, 2));
  Publish(*agent, "status", StatusBytes(id_, false, 1));     // session 1's Will, delivered late
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 2, 33));  // sentinel
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 33; }));
  EXPECT_TRUE(Online());
  EXPECT_EQ(Presence()->session, 2);
}

// The sweep's timing is tested in simulated time (offline_detector_test.cc); here a sweep with a
// zero timeout finds the terminal silent at once, and its next heartbeat brings it back.
TEST_F(LinkIngestTest, SilenceMeansOfflineAfterTheTimeout) {
  StartIngest();
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "status", StatusBytes(id_, true, 1));
  ASSERT_TRUE(testing::WaitFor([&] { return Online(); }));
  // Still connected, but no more heartbeats.
  jobs::OfflineDetector detector(*h_.store, counters_, RealEnv(), {absl::ZeroDuration()});
  absl::StatusOr<int> marked = detector.RunOnce();
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(*marked, 1);
  EXPECT_FALSE(Online());
  EXPECT_GE(counters_.Get("posfleet_link_silent_offline_total", ""), 1);
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 90));
  EXPECT_TRUE(testing::WaitFor([&] { return Online(); }));
}

TEST_F(LinkIngestTest, MalformedUplinksAreCountedAndGoodTrafficContinues) {
  StartIngest();
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "heartbeat", "\xff\xfe not protobuf");
  Publish(*agent, "heartbeat", HeartbeatBytes("trm_bbbbbbbbbbbbbbbbbbbb", 1, 10));
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 250));
  Publish(*agent, "heartbeat", std::string(70 * 1024, 'x'));
  Publish(*agent, "selfie", "x");  // an unknown kind: refused by the broker, never delivered
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 71));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 71; }));
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"payload\""), 1);
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"terminal_id\""), 1);
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"range\""), 1);
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"size\""), 1);
  EXPECT_EQ(Count("kind=\"unknown\",result=\"topic\""), 0);  // decoder: uplink_decoder_test
  EXPECT_EQ(Count("kind=\"heartbeat\",result=\"ok\""), 1);
}

// Records with seq n are "txn-n" of 100 * n cents, all at one time (a record is immutable: its
// replays carry the same time); `amount_offset` makes other content under the same ids.
std::string TxnBatchBytes(const std::string& id, uint64_t batch_id,
                          const std::vector<uint64_t>& seqs, int64_t amount_offset = 0) {
  static const int64_t kTime = absl::ToUnixSeconds(absl::Now());
  v1::TxnBatch b;
  b.set_terminal_id(id);
  b.set_batch_id(batch_id);
  for (uint64_t seq : seqs) {
    v1::TxnRecord* r = b.add_records();
    r->set_seq(seq);
    r->set_txn_id("txn-" + std::to_string(seq));
    r->mutable_time()->set_seconds(kTime);
    r->set_type(v1::TXN_TYPE_SALE);
    r->set_result(v1::TXN_RESULT_APPROVED);
    r->set_amount_minor(static_cast<int64_t>(100 * seq) + amount_offset);
    r->set_currency("EUR");
  }
  return b.SerializeAsString();
}

// Collects the down/ack messages a terminal receives.
struct AckCollector : public mqtt::callback {
  void message_arrived(mqtt::const_message_ptr msg) override {
    v1::TxnAck ack;
    if (!ack.ParseFromString(msg->get_payload())) return;
    absl::MutexLock lock(&mu);
    for (const auto& c : ack.committed()) ++acked[c.seq()];
    for (const auto& r : ack.rejected()) rejected[r.seq()] = r.reason();
  }
  std::map<uint64_t, int> Acked() {
    absl::MutexLock lock(&mu);
    return acked;
  }
  std::map<uint64_t, std::string> Rejected() {
    absl::MutexLock lock(&mu);
    return rejected;
  }
  absl::Mutex mu;
  std::map<uint64_t, int> acked;
  std::map<uint64_t, std::string> rejected;
};

TEST_F(LinkIngestTest, DuplicateAndOutOfOrderBatchesAreStoredOnceAndAckedEveryTime) {
  AckCollector acks;
  auto agent = StartWithTransactions(&acks);
  // Every batch twice, the later one first, and one overlapping both.
  Publish(*agent, "txn", TxnBatchBytes(id_, 2, {4, 5, 6}));
  Publish(*agent, "txn", TxnBatchBytes(id_, 1, {1, 2, 3}));
  Publish(*agent, "txn", TxnBatchBytes(id_, 2, {4, 5, 6}));
  Publish(*agent, "txn", TxnBatchBytes(id_, 3, {3, 4}));
  Publish(*agent, "txn", TxnBatchBytes(id_, 1, {1, 2, 3}));
  ASSERT_TRUE(testing::WaitFor([&] {
    auto a = acks.Acked();
    return a.size() == 6 && a[3] >= 3 && a[4] >= 3 && a[1] >= 2;
  }));
  pqxx::connection conn(h_.db_url);
  pqxx::row r = pqxx::nontransaction(conn).exec1(
      "SELECT count(*), count(DISTINCT txn_id), sum(amount_minor) FROM transactions");
  EXPECT_EQ(r[0].as<int>(), 6);
  EXPECT_EQ(r[1].as<int>(), 6);
  EXPECT_EQ(r[2].as<int>(), 2100);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"inserted\""), 6);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"duplicate\""), 8);
}

}  // namespace
}  // namespace posfleet

namespace posfleet {
namespace {

using testing::ApiHarness;

// An id stored before with other content is a conflict: rejected in the ack (so the agent moves
// the record to its rejected list, where the payment app sees it), never stored.
TEST_F(LinkIngestTest, ATransactionIdTakenByAnotherRecordIsRejectedAsAConflict) {
  AckCollector acks;
  auto agent = StartWithTransactions(&acks);
  Publish(*agent, "txn", TxnBatchBytes(id_, 1, {1, 2}));
  ASSERT_TRUE(testing::WaitFor([&] { return acks.Acked().size() == 2; }));
  Publish(*agent, "txn", TxnBatchBytes(id_, 2, {2}, /*amount_offset=*/7));
  ASSERT_TRUE(testing::WaitFor([&] { return acks.Rejected().count(2) == 1; }));
  EXPECT_EQ(acks.Rejected()[2].rfind("conflict:", 0), 0u) << acks.Rejected()[2];
  EXPECT_EQ(acks.Acked()[2], 1);  // acknowledged once, for the first record only
  pqxx::connection conn(h_.db_url);
  pqxx::row r =
      pqxx::nontransaction(conn).exec1("SELECT count(*), sum(amount_minor) FROM transactions");
  EXPECT_EQ(r[0].as<int>(), 2);
  EXPECT_EQ(r[1].as<int64_t>(), 300);
  EXPECT_EQ(counters_.Get("posfleet_txn_records_total", "result=\"conflict\""), 1);
}

class LinkAccessTest : public LinkIngestTest {
 protected:
  void Lifecycle(const char* action) {
    v1::LifecycleRequest r;
    r.set_id(id_);
    r.set_reason("test");
    v1::Terminal t;
    auto ctx = ApiHarness::As(h_.admin);
    grpc::Status s =
        std::string(action) == "suspend"      ? h_.terminals->SuspendTerminal(ctx.get(), r, &t)
        : std::string(action) == "reactivate" ? h_.terminals->ReactivateTerminal(ctx.get(), r, &t)
                                              : h_.terminals->RetireTerminal(ctx.get(), r, &t);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  int64_t Refused() { return counters_.Get("posfleet_link_refused_total", "reason=\"inactive\""); }
  int Audited() { return h_.CountAudit(id_, "Link.Uplink", "PERMISSION_DENIED"); }
};

TEST_F(LinkAccessTest, UplinksOfASuspendedTerminalAreRefusedAndAuditedOncePerSuspension) {
  AckCollector acks;
  auto agent = StartWithTransactions(&acks);
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 50));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 50; }));

  Lifecycle("suspend");
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 40));
  Publish(*agent, "status", StatusBytes(id_, true, 2));
  Publish(*agent, "txn", TxnBatchBytes(id_, 1, {1, 2}));
  ASSERT_TRUE(testing::WaitFor([&] { return Refused() >= 4; })) << Refused();
  EXPECT_EQ(Battery(), 50);
  EXPECT_EQ(Audited(), 1);
  EXPECT_TRUE(acks.Acked().empty());  // the records stay in the terminal's outbox
  pqxx::connection conn(h_.db_url);
  EXPECT_EQ(pqxx::nontransaction(conn).exec1("SELECT count(*) FROM transactions")[0].as<int>(), 0);

  // Active again: accepted, and a later suspension is audited afresh.
  Lifecycle("reactivate");
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 30));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 30; }));
  Publish(*agent, "txn", TxnBatchBytes(id_, 1, {1, 2}));
  ASSERT_TRUE(testing::WaitFor([&] { return acks.Acked().size() == 2; }));
  EXPECT_EQ(Audited(), 1);
  Lifecycle("retire");
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 20));
  ASSERT_TRUE(testing::WaitFor([&] { return Audited() == 2; }));
  EXPECT_EQ(Battery(), 30);
}

TEST_F(LinkAccessTest, RetirementClosesTheLiveBrokerConnection) {
  StartIngest();
  link::DisconnectPublisher disconnects(*h_.store, ingest_->broker(), counters_, RealEnv());
  auto agent = broker_.Connect(agent_cert_, id_);
  const ClientCert other_cert = broker_.Issue("trm_bystander");
  auto bystander = broker_.Connect(other_cert, "trm_bystander");
  auto none = disconnects.RunOnce();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  Lifecycle("retire");
  auto sent = disconnects.RunOnce();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1);
  EXPECT_TRUE(testing::WaitFor([&] { return !agent->is_connected(); }));
  EXPECT_TRUE(bystander->is_connected());
  EXPECT_EQ(*disconnects.RunOnce(), 0);  // done once
}

// A retired terminal's parameter set, secrets in clear, does not stay on the broker: retirement
// deletes its retained down/config. A suspended terminal keeps its set (it may come back).
TEST_F(LinkAccessTest, RetirementDeletesTheRetainedParameterSet) {
  StartIngest();
  link::DisconnectPublisher disconnects(*h_.store, ingest_->broker(), counters_, RealEnv());
  const std::string base = "posfleet/v1/t/" + id_ + "/down/";
  ASSERT_EQ(ingest_->broker().PublishRetained({{base + "config", "the set, secrets and all"}},
                                              absl::Seconds(10)),
            std::vector<bool>{true});
  // What a fresh subscription of the terminal's own downlinks gets: any retained set, then a
  // probe published after the subscription, which therefore comes after a retained message.
  int probes = 0;
  auto retained_set = [&]() -> std::string {
    auto c = broker_.Connect(agent_cert_, id_);
    c->start_consuming();
    c->subscribe(base + "config", 1);
    c->subscribe(base + "probe", 1);
    EXPECT_EQ(ingest_->broker().PublishRetained({{base + "probe", absl::StrCat(++probes)}},
                                                absl::Seconds(10)),
              std::vector<bool>{true});
    std::string set;
    mqtt::const_message_ptr m;
    while (c->try_consume_message_for(&m, std::chrono::seconds(10)) && m) {
      if (m->get_topic() == base + "probe" && m->to_string() == absl::StrCat(probes)) break;
      if (m->get_topic() == base + "config") set = m->to_string();
    }
    c->disconnect();
    return set;
  };
  ASSERT_EQ(retained_set(), "the set, secrets and all");
  Lifecycle("suspend");
  ASSERT_TRUE(disconnects.RunOnce().ok());
  EXPECT_EQ(retained_set(), "the set, secrets and all");
  Lifecycle("retire");
  auto sent = disconnects.RunOnce();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 1);
  EXPECT_EQ(retained_set(), "");
  EXPECT_EQ(counters_.Get("posfleet_link_retained_cleared_total", ""), 1);
}

TEST_F(LinkAccessTest, ASessionCannotJumpFarAheadAndEnrollmentStartsAgain) {
  StartIngest();
  auto agent = broker_.Connect(agent_cert_, id_);
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 3, 50));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 50; }));
  // Far ahead: ignored, so the terminal cannot lock its presence at a huge session.
  Publish(*agent, "status", StatusBytes(id_, false, uint64_t{1} << 62));
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, uint64_t{1} << 62, 10));
  // Written before the next one (within one flush the newest session would stand for both).
  ASSERT_TRUE(testing::WaitFor([&] { return Count("kind=\"heartbeat\",result=\"ok\"") == 2; }));
  ASSERT_TRUE(ingest_->Flush().ok());
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 4, 40));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 40; }));
  EXPECT_TRUE(Online());
  // Within reach: accepted. A re-enrolled agent (new state) counts from 1 again.
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 90000, 35));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 35; }));
  h_.Enroll(id_, "SN1");
  Publish(*agent, "heartbeat", HeartbeatBytes(id_, 1, 25));
  ASSERT_TRUE(testing::WaitFor([&] { return Battery() == 25; }));
}

}  // namespace
}  // namespace posfleet

// The agent runtime against a real server (in-process API on a real PostgreSQL) and a real
// Mosquitto with mutual TLS. The agent's clock is simulated, so months pass in a test: it renews
// its certificate two thirds into the validity, reconnects with it, and gives up (asking for a
// new activation code) once a certificate has expired.

#include "agent/agent.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "posfleet/v1/enrollment.grpc.pb.h"
#include "tests/support/api_harness.h"
#include "tests/support/simulated_env.h"
#include "tests/support/test_broker.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"
#include "tools/sim/txn_stream.h"

namespace posfleet::agent {
namespace {

using testing::ApiHarness;
using testing::WaitFor;

class FixedHealth final : public HealthProvider {
 public:
  void Fill(v1::Heartbeat& hb) override {
    hb.set_battery_percent(80);
    hb.set_paper(v1::Heartbeat::PAPER_OK);
  }
};

class AgentTest : public ::testing::Test {
 protected:
  AgentTest()
      : ca_(*pki::CreateCa("fleet CA", absl::Hours(24 * 3650))),
        broker_(&ca_),
        h_(&ca_, broker_.address()) {}

  void SetUp() override {
    char tmpl[] = "/tmp/posfleet-agent-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const v1::Tenant tenant = h_.CreateTenant("acme");
    terminal_ = h_.CreateTerminal(h_.admin, h_.CreateMerchant(tenant.id(), "M1").id(), "SN1").id();
  }
  void TearDown() override {
    if (agent_) agent_->Stop();
    if (runner_.joinable()) runner_.join();
    testing::Run("rm -rf " + dir_);
  }

  std::string Code() {
    v1::IssueActivationCodeRequest r;
    r.set_id(terminal_);
    v1::ActivationCode code;
    EXPECT_TRUE(h_.terminals->IssueActivationCode(ApiHarness::As(h_.admin).get(), r, &code).ok());
    return code.code();
  }

  void Start(const std::string& code) {
    AgentOptions o;
    o.state_dir = dir_ + "/state";
    o.server = server_.empty() ? "127.0.0.1:" + std::to_string(h_.server->device_port()) : server_;
    o.server_ca = server_ca_;
    o.vendor = "PAX";
    o.serial = "SN1";
    o.activation_code = code;
    o.heartbeat_interval = absl::Milliseconds(200);
    o.ack_timeout = ack_timeout_;
    o.env = &env_;
    agent_ = std::make_unique<Agent>(o, health_);
    runner_ = std::thread([this] { result_ = agent_->Run(); });
  }

  std::string File(const std::string& name) {
    std::ifstream in(dir_ + "/state/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string CertSerial() {
    auto info = pki::InspectCert(File("cert.pem"));
    return info.ok() ? info->serial : "";
  }
  int Count(const std::string& sql) {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<int>();
  }

  pki::CertAndKey ca_;
  testing::TestBroker broker_;
  ApiHarness h_;
  // Runs with real time (heartbeats, acks) and jumps when a test moves it (renewal, expiry).
  testing::SimulatedEnv env_{testing::SimulatedEnv::Flow::kRunning};
  absl::Duration ack_timeout_ = absl::Seconds(15);
  std::string server_;                  // empty: the harness's API
  std::string server_ca_ = h_.ca_file;  // what the terminal was provisioned to trust
  FixedHealth health_;
  std::string dir_, terminal_;
  std::unique_ptr<Agent> agent_;
  std::thread runner_;
  absl::Status result_;
};

TEST_F(AgentTest, RenewsTwoThirdsIntoTheValidityAndReconnectsWithTheNewCertificate) {
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  const std::string first = CertSerial();
  const std::string first_key = File("key.pem");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(File("session"), "1\n");

  // Fifty-nine days on: nothing to do yet.
  env_.Advance(absl::Hours(24 * 59));
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  EXPECT_EQ(CertSerial(), first);

  // Day sixty-one: renewed with a new key, and the session restarted with the new certificate,
  // which the broker accepts.
  env_.Advance(absl::Hours(24 * 2));
  ASSERT_TRUE(WaitFor([&] {
    return CertSerial() != first && agent_->state() == State::kOnline && File("session") == "2\n";
  })) << "state "
      << StateName(agent_->state()) << ", serial " << CertSerial();
  EXPECT_NE(File("key.pem"), first_key);
  auto info = pki::InspectCert(File("cert.pem"), ca_.cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, terminal_);
  EXPECT_EQ(h_.CountAudit(terminal_, "EnrollmentService.RenewCertificate", "OK"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM certificates WHERE revoke_time IS NULL"), 2);

  // The renewed identity survives a restart (on a clock that agrees with the server's again),
  // which connects without any code.
  agent_->Stop();
  runner_.join();
  EXPECT_TRUE(result_.ok()) << result_;
  const std::string renewed = CertSerial();
  env_.Set(absl::Now());
  Start("");
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  EXPECT_EQ(CertSerial(), renewed);
  EXPECT_EQ(File("session"), "3\n");
  // Its clock was two months ahead of the server's, so the new certificate looked due at once:
  // still one renewal, not one per loop.
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 2);
}

// Plays the server on the broker: collects a terminal's uplinks and sends acks by hand.
class FakeServer : public mqtt::callback {
 public:
  void message_arrived(mqtt::const_message_ptr msg) override {
    absl::MutexLock lock(&mu_);
    if (absl::EndsWith(msg->get_topic(), "/up/txn")) {
      v1::TxnBatch batch;
      if (batch.ParseFromString(msg->get_payload())) batches_.push_back(batch);
    } else if (absl::EndsWith(msg->get_topic(), "/up/heartbeat")) {
      ++heartbeats_;
    }
  }
  std::vector<v1::TxnBatch> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  int heartbeats() {
    absl::MutexLock lock(&mu_);
    return heartbeats_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::TxnBatch> batches_;
  int heartbeats_ = 0;
};

TEST_F(AgentTest, APartialBatchWaitsForTheAckOfTheOneInFlight) {
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  FakeServer server;
  auto client =
      broker_.Connect(broker_.Issue("posfleet-server"), "posfleet-server-fake", 5, &server);
  client->subscribe(absl::StrCat("posfleet/v1/t/", terminal_, "/up/#"), 0);
  sim::TxnStream stream(1, "SN1", "M1", "EUR");

  // The first record after a quiet spell leaves at once, alone.
  ASSERT_TRUE(agent_->RecordTransaction(stream.Next(absl::Now())).ok());
  ASSERT_TRUE(WaitFor([&] { return server.batches().size() == 1; }));
  EXPECT_EQ(server.batches()[0].records_size(), 1);

  // Fifty more while its ack is outstanding: they wait (the window would allow three more
  // messages). Two heartbeats later the agent's loop has certainly seen them.
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(agent_->RecordTransaction(stream.Next(absl::Now())).ok());
  const int beats = server.heartbeats();
  ASSERT_TRUE(WaitFor([&] { return server.heartbeats() >= beats + 2; }));
  EXPECT_EQ(server.batches().size(), 1u);
  EXPECT_EQ(agent_->Stats().in_flight, 1u);

  // The ack releases them, together, in one message.
  auto ack = [&](const v1::TxnBatch& batch) {
    v1::TxnAck a;
    a.set_batch_id(batch.batch_id());
    for (const auto& r : batch.records()) {
      v1::TxnAck::Committed* c = a.add_committed();
      c->set_seq(r.seq());
      c->set_txn_id(r.txn_id());
    }
    const std::string payload = a.SerializeAsString();
    client->publish(mqtt::make_message(absl::StrCat("posfleet/v1/t/", terminal_, "/down/ack"),
                                       payload.data(), payload.size(), 0, false));
  };
  ack(server.batches()[0]);
  ASSERT_TRUE(WaitFor([&] { return server.batches().size() == 2; }));
  EXPECT_EQ(server.batches()[1].records_size(), 50);
  ack(server.batches()[1]);
  // The outbox empties a moment before the counter moves (Settle, then the count), so wait for
  // both rather than read one after the other.
  ASSERT_TRUE(WaitFor([&] {
    const OutboxStats s = agent_->Stats();
    return s.records == 0 && s.acknowledged == 51u;
  })) << "records "
      << agent_->Stats().records << ", acknowledged " << agent_->Stats().acknowledged;
  EXPECT_EQ(server.batches().size(), 2u);
}

// While the broker is down the agent waits out its backoff by its clock, whatever the payment app
// does: recording payments used to wake the wait, and at 1,000 payments a second a terminal tried
// to connect 49 times in 10 s. Simulated time: no attempt until the clock moves.
TEST_F(AgentTest, TheReconnectBackoffHoldsWhilePaymentsAreRecorded) {
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  // From here on the agent's time moves only when the test moves it.
  env_.Freeze();
  broker_.Stop();
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOffline; }));
  // One attempt may already be under way as the connection drops; after that, none.
  ASSERT_TRUE(WaitFor([&] {
    const uint64_t a = agent_->connect_attempts();
    return agent_->state() == State::kOffline && a == agent_->connect_attempts();
  }));
  const uint64_t attempts = agent_->connect_attempts();
  sim::TxnStream stream(2, "SN1", "M1", "EUR");
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(agent_->RecordTransaction(stream.Next(absl::Now())).ok());
  // Ten heartbeat intervals pass in real time without an attempt: the backoff is by the agent's
  // clock, which has not moved.
  EXPECT_FALSE(
      WaitFor([&] { return agent_->connect_attempts() != attempts; }, std::chrono::seconds(2)));
  EXPECT_EQ(agent_->Stats().records, 300u);
  // The clock moves past the longest backoff: the next attempt comes, and with the broker back,
  // the agent is online and sends what it kept.
  broker_.Start();
  ASSERT_TRUE(WaitFor([&] {
    env_.Advance(absl::Seconds(61));
    return agent_->state() == State::kOnline;
  }));
  EXPECT_GT(agent_->connect_attempts(), attempts);
  EXPECT_LE(agent_->connect_attempts(), attempts + 5);
}

// After a server restart the broker drops a terminal's batches until the server has subscribed
// again, and says so (PUBACK 0x10, no matching subscribers). The agent sends again soon, backing
// off, instead of waiting out its ack timeout: with a 60 s timeout, the batch reaches a server
// that subscribes a moment later within seconds.
TEST_F(AgentTest, ABatchNobodyReceivedIsSentAgainSoonNotAfterTheAckTimeout) {
  ack_timeout_ = absl::Seconds(60);
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  sim::TxnStream stream(3, "SN1", "M1", "EUR");
  ASSERT_TRUE(agent_->RecordTransaction(stream.Next(absl::Now())).ok());
  ASSERT_TRUE(WaitFor([&] { return agent_->Stats().in_flight == 1; }));
  // The server comes back.
  FakeServer server;
  auto client =
      broker_.Connect(broker_.Issue("posfleet-server"), "posfleet-server-late", 5, &server);
  client->subscribe(absl::StrCat("posfleet/v1/t/", terminal_, "/up/txn"), 1);
  EXPECT_TRUE(WaitFor([&] { return !server.batches().empty(); }, std::chrono::seconds(10)))
      << "the batch waited for the ack timeout";
}

// A server that crashed after reading a batch never acks it, and nothing tells the agent: the
// broker delivered it. When a server subscribes again it announces so on posfleet/v1/server/ready,
// and the agent sends what is in flight again within its spread, not after a 60 s ack timeout.
// The announcement comes through the real broker and its rules (terminals may read it).
TEST_F(AgentTest, WhatIsInFlightIsSentAgainWhenAServerAnnouncesItReads) {
  ack_timeout_ = absl::Seconds(60);
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  FakeServer server;
  auto client =
      broker_.Connect(broker_.Issue("posfleet-server"), "posfleet-server-fake", 5, &server);
  client->subscribe(absl::StrCat("posfleet/v1/t/", terminal_, "/up/#"), 1);
  sim::TxnStream stream(4, "SN1", "M1", "EUR");
  ASSERT_TRUE(agent_->RecordTransaction(stream.Next(absl::Now())).ok());
  ASSERT_TRUE(WaitFor([&] { return server.batches().size() == 1; }));
  // Read, never acked: the agent waits (two heartbeats pass without a second copy).
  const int beats = server.heartbeats();
  ASSERT_TRUE(WaitFor([&] { return server.heartbeats() >= beats + 2; }));
  EXPECT_EQ(server.batches().size(), 1u);

  v1::ServerReady ready;
  ready.set_server("posfleet-server-fake");
  const std::string payload = ready.SerializeAsString();
  client->publish(
      mqtt::make_message("posfleet/v1/server/ready", payload.data(), payload.size(), 0, false));
  ASSERT_TRUE(WaitFor([&] { return server.batches().size() == 2; }, std::chrono::seconds(10)))
      << "the batch waited for the ack timeout";
  EXPECT_EQ(server.batches()[1].records(0).txn_id(), server.batches()[0].records(0).txn_id());
}

// A relay between the terminal and the server, as a hostile network would run one: it answers
// Enroll itself over TLS with `tls` (its certificate and key, for 127.0.0.1), passes the call on
// to the real server, and hands the terminal `rogue` CA and broker in the answer.
class EnrollmentRelay final : public v1::EnrollmentService::Service {
 public:
  EnrollmentRelay(const pki::CertAndKey& tls, const std::string& upstream,
                  const std::string& upstream_ca, std::string rogue_ca_pem)
      : upstream_(v1::EnrollmentService::NewStub(
            grpc::CreateChannel(upstream, grpc::SslCredentials({upstream_ca, "", ""})))),
        rogue_ca_pem_(std::move(rogue_ca_pem)) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~EnrollmentRelay() override { server_->Shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int calls() const { return calls_.load(); }

  grpc::Status Enroll(grpc::ServerContext*, const v1::EnrollRequest* req,
                      v1::EnrollResponse* resp) override {
    ++calls_;
    grpc::ClientContext ctx;
    grpc::Status s = upstream_->Enroll(&ctx, *req, resp);
    if (!s.ok()) return s;
    resp->set_ca_pem(rogue_ca_pem_);
    resp->set_broker_address("ssl://127.0.0.1:1");
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<v1::EnrollmentService::Stub> upstream_;
  std::string rogue_ca_pem_;
  std::atomic<int> calls_{0};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Without a CA to authenticate the server with, the agent does not enroll at all (it used to
// enroll over plaintext, and a relay got the terminal's certificate and gave it a CA and broker
// of its own); the development flag is the only way round, and says so.
TEST_F(AgentTest, AnAgentWithoutAServerCaDoesNotEnroll) {
  server_ca_ = "";
  AgentOptions o;
  o.state_dir = dir_ + "/state";
  o.server = "127.0.0.1:" + std::to_string(h_.server->device_port());
  o.vendor = "PAX";
  o.serial = "SN1";
  o.activation_code = Code();
  Agent agent(o, health_);
  const absl::Status s = agent.Run();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("--server-ca"), std::string::npos) << s;
  EXPECT_EQ(Count("SELECT count(*) FROM certificates"), 0);
}

// A relay with a certificate of its own CA: the TLS handshake fails, so it never even sees the
// code, which stays good for the real server.
TEST_F(AgentTest, ARelayThatCannotProveItIsTheServerNeverSeesTheCode) {
  const pki::CertAndKey rogue = *pki::CreateCa("rogue CA", absl::Hours(24));
  EnrollmentRelay relay(testing::ServerCertificate(rogue),
                        "127.0.0.1:" + std::to_string(h_.server->device_port()), ca_.cert_pem,
                        rogue.cert_pem);
  server_ = relay.address();
  const std::string code = Code();
  Start(code);
  ASSERT_TRUE(WaitFor([&] { return !agent_->last_enroll_error().ok(); }));
  EXPECT_TRUE(absl::IsUnavailable(agent_->last_enroll_error())) << agent_->last_enroll_error();
  EXPECT_EQ(relay.calls(), 0);
  EXPECT_NE(agent_->state(), State::kOnline);
  agent_->Stop();
  runner_.join();
  agent_.reset();
  // The code was never spent: the terminal enrolls with the real server.
  server_ = "";
  Start(code);
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }))
      << agent_->last_enroll_error();
}

// A relay the terminal does trust on TLS (here: a certificate from the fleet CA itself, as a
// stolen broker key would give) still cannot redirect it: the CA in the answer must be the one
// the terminal was provisioned with, so it refuses the rogue CA and broker and keeps nothing.
TEST_F(AgentTest, AnEnrollmentAnswerNamingAnotherFleetCaIsRefused) {
  const pki::CertAndKey rogue = *pki::CreateCa("rogue CA", absl::Hours(24));
  EnrollmentRelay relay(testing::ServerCertificate(ca_),
                        "127.0.0.1:" + std::to_string(h_.server->device_port()), ca_.cert_pem,
                        rogue.cert_pem);
  server_ = relay.address();
  Start(Code());
  runner_.join();
  EXPECT_EQ(relay.calls(), 1);
  EXPECT_TRUE(absl::IsPermissionDenied(result_)) << result_;
  EXPECT_NE(result_.message().find("not provisioned"), std::string::npos) << result_;
  EXPECT_EQ(File("identity"), "");
  EXPECT_EQ(File("ca.pem"), "");
}

TEST_F(AgentTest, AnExpiredCertificateNeedsANewActivationCode) {
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  // Switched off for a year: the next connection finds the certificate expired.
  env_.Advance(absl::Hours(24 * 365));
  agent_->DropConnection();
  // The reconnect waits out its backoff by the agent's clock.
  ASSERT_TRUE(WaitFor([&] {
    env_.Advance(absl::Seconds(61));
    return agent_->state() == State::kUnenrolled;
  }));
  runner_.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(result_)) << result_;
  EXPECT_NE(result_.message().find("certificate expired"), std::string::npos) << result_;
  EXPECT_NE(result_.message().find("--activation-code-file"), std::string::npos) << result_;
  EXPECT_EQ(agent_->state(), State::kUnenrolled);

  // Restarted without a code, it says so again at once instead of knocking at the broker.
  Start("");
  runner_.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(result_)) << result_;
  EXPECT_NE(result_.message().find("certificate expired"), std::string::npos) << result_;
}

TEST_F(AgentTest, AFailedRenewalKeepsTheLiveSession) {
  Start(Code());
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  const std::string first = CertSerial();
  // The server is gone when the renewal falls due.
  h_.server->Shutdown();
  env_.Advance(absl::Hours(24 * 61));
  ASSERT_TRUE(WaitFor([&] { return File("renew-key.pem") != ""; }));
  // It stays online on the old certificate, in the same session, and tries again later.
  ASSERT_TRUE(WaitFor([&] { return agent_->state() == State::kOnline; }));
  EXPECT_EQ(CertSerial(), first);
  EXPECT_EQ(File("session"), "1\n");
}

}  // namespace
}  // namespace posfleet::agent

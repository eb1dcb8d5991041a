// Transactions end to end, with every part real: the payment app's records go through the
// posfleet-agent binary's local API and SQLite outbox, Mosquitto and posfleet-server into
// PostgreSQL, while the server is killed with SIGKILL and the broker restarted mid-ingest, and
// the agent itself is killed mid-write. Every record must be stored exactly once. Then card
// numbers are injected into every text field and looked for everywhere they could leak.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/pan.h"
#include "posfleet/v1/agent_local.grpc.pb.h"
#include "posfleet/v1/link.pb.h"
#include "posfleet/v1/terminal.grpc.pb.h"
#include "tests/e2e/e2e_harness.h"

namespace posfleet::e2e {
namespace {

v1::TxnRecord Sale(const std::string& id) {
  v1::TxnRecord r;
  r.set_txn_id(id);
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  r.set_type(v1::TXN_TYPE_SALE);
  r.set_result(v1::TXN_RESULT_APPROVED);
  r.set_amount_minor(1250);
  r.set_currency("EUR");
  r.set_response_code("00");
  r.set_scheme("visa");
  r.set_entry_mode(v1::ENTRY_MODE_CONTACTLESS);
  r.set_masked_pan("411111******1111");
  r.set_stan("000123");
  r.set_auth_code("A1B2C3");
  r.set_mid("000000012345678");
  r.set_tid("T0000001");
  return r;
}

class TxnE2eTest : public E2eLinkTest {
 protected:
  std::unique_ptr<v1::AgentLocal::Stub> Local() {
    return v1::AgentLocal::NewStub(grpc::CreateChannel("unix:" + dir_ + "/agent-state/agent.sock",
                                                       grpc::InsecureChannelCredentials()));
  }

  std::string StartOnlineAgent() {
    auto [terminal, code] = ProvisionTerminal("SN-E2E");
    EXPECT_FALSE(terminal.empty());
    const pid_t pid = StartAgent(code);
    // The code reaches the agent from a file, so no local user reads it in the process list.
    EXPECT_EQ(Slurp(absl::StrCat("/proc/", pid, "/cmdline")).find(code), std::string::npos);
    EXPECT_TRUE(testing::WaitFor([&] {
      return Ctl("terminals get " + terminal).out.find("online") != std::string::npos;
    })) << Slurp(dir_ + "/agent.log");
    return terminal;
  }

  v1::OutboxStatusResponse Outbox() {
    v1::OutboxStatusResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    (void)Local()->OutboxStatus(&ctx, {}, &resp);
    return resp;
  }

  // count(*) and count(DISTINCT txn_id) of the terminal's stored transactions.
  std::pair<int64_t, int64_t> Stored(const std::string& terminal) {
    pqxx::connection conn(db_url_);
    pqxx::row r = pqxx::nontransaction(conn).exec_params1(
        "SELECT count(*), count(DISTINCT txn_id) FROM transactions WHERE terminal_id = $1",
        terminal);
    return {r[0].as<int64_t>(), r[1].as<int64_t>()};
  }

  void KillServer() {
    kill(server_, SIGKILL);
    waitpid(server_, nullptr, 0);
    server_ = -1;
  }
};

TEST_F(TxnE2eTest, EveryRecordIsStoredExactlyOnceThroughCrashesAndRestarts) {
  // Recovery must not lean on the ack timeout: with five minutes of it, every wait below (two
  // minutes at most) would fail if a restart left the agent waiting for acks that cannot come.
  agent_flags_ = {"--ack-timeout", "300"};
  const std::string terminal = StartOnlineAgent();
  ASSERT_FALSE(terminal.empty());

  // The shell path a payment app's script would use.
  const std::string agent_bin =
      BuildDir() + "/agent/main/posfleet-agent --state-dir " + dir_ + "/agent-state txn ";
  Output one = Capture(agent_bin +
                       "record --txn-id cli-1 --amount 999 --currency EUR --type refund "
                       "--result approved --entry-mode chip --masked-pan 535110******0003");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("recorded: cli-1 as outbox seq 1"), std::string::npos) << one.out;
  Output pan = Capture(agent_bin + "record --txn-id cli-2 --amount 1 --currency EUR --mid " +
                       "4111111111111111");
  EXPECT_EQ(pan.code, 2);
  EXPECT_NE(pan.err.find("mid: contains a card number; not recorded"), std::string::npos)
      << pan.err;
  EXPECT_EQ(pan.err.find("4111111111111111"), std::string::npos);
  EXPECT_EQ(Capture(agent_bin + "record --txn-id cli-3 --amount 1 --currency XXX").code, 2);

  // 100,000 records handed over in batches of 1,000 (one fsync each), while the upload runs.
  constexpr int kRecords = 100000;
  std::atomic<int> handed{0};
  std::thread feeder([&] {
    auto local = Local();
    for (int b = 0; b < kRecords / 1000; ++b) {
      v1::RecordTransactionsRequest req;
      for (int i = 0; i < 1000; ++i) *req.add_records() = Sale(absl::StrCat("t-", b, "-", i));
      v1::RecordTransactionsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status s = local->RecordTransactions(&ctx, req, &resp);
      if (!s.ok()) {
        ADD_FAILURE() << "batch " << b << ": " << s.error_message();
        return;
      }
      handed += 1000;
    }
  });

  // Kill -9 the server mid-ingest, then start it again on the same database.
  ASSERT_TRUE(
      testing::WaitFor([&] { return Stored(terminal).first > 10000; }, std::chrono::seconds(120)))
      << Slurp(dir_ + "/server.log");
  KillServer();
  const int64_t at_kill = Stored(terminal).first;
  StartServer(/*same_database=*/true);
  // The batches the dead server had read are never acked, and nothing else would make the agent
  // send them again before its ack timeout: the new server's announcement does.
  const absl::Time back = absl::Now();
  ASSERT_TRUE(
      testing::WaitFor([&] { return Stored(terminal).first > at_kill; }, std::chrono::seconds(30)))
      << Slurp(dir_ + "/agent.log");
  std::cout << "ingest resumed " << absl::FormatDuration(absl::Now() - back)
            << " after the restarted server answered\n";
  EXPECT_GE(Metric("posfleet_link_ready_announced_total"), 1);

  // Restart the broker mid-ingest.
  ASSERT_TRUE(testing::WaitFor([&] { return Stored(terminal).first > at_kill + 10000; },
                               std::chrono::seconds(120)))
      << Slurp(dir_ + "/agent.log");
  RestartBroker();

  feeder.join();
  ASSERT_EQ(handed.load(), kRecords);

  // Kill -9 the agent (the outbox is its only copy of what is not acknowledged), restart it.
  ASSERT_TRUE(testing::WaitFor([&] { return Stored(terminal).first > at_kill + 20000; },
                               std::chrono::seconds(120)));
  for (pid_t pid : agents_) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  agents_.clear();
  StartAgent("");

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const v1::OutboxStatusResponse o = Outbox();
        return o.connected() && o.records() == 0;
      },
      std::chrono::seconds(180)))
      << "outbox: " << Outbox().DebugString() << Slurp(dir_ + "/agent.log");
  const auto [count, distinct] = Stored(terminal);
  EXPECT_EQ(count, kRecords + 1);
  EXPECT_EQ(distinct, kRecords + 1);

  // What an operator sees: the list, and a daily report that matches a recount in SQL.
  Output list = Ctl("txns list --terminal " + terminal + " --limit 3");
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("12.50 EUR"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("411111******1111"), std::string::npos) << list.out;
  Output refunds = Ctl("txns list --type refund --terminal " + terminal);
  EXPECT_NE(refunds.out.find("cli-1"), std::string::npos) << refunds.out;
  EXPECT_NE(refunds.out.find("9.99 EUR"), std::string::npos) << refunds.out;
  Output report = Ctl("-o json report daily --by-terminal --terminal " + terminal);
  ASSERT_EQ(report.code, 0) << report.err;
  pqxx::connection conn(db_url_);
  for (const pqxx::row& r : pqxx::nontransaction(conn).exec_params(
           "SELECT count(*), sum(amount_minor) FROM transactions WHERE terminal_id = $1 "
           "GROUP BY type, result, currency",
           terminal)) {
    EXPECT_NE(report.out.find(absl::StrCat("\"count\": \"", r[0].c_str(), "\"")), std::string::npos)
        << report.out;
    EXPECT_NE(report.out.find(absl::StrCat("\"amountMinor\": \"", r[1].c_str(), "\"")),
              std::string::npos)
        << report.out;
  }
  EXPECT_NE(report.out.find("\"approvalRate\": 1"), std::string::npos) << report.out;
  // It has just taken payments: not silent.
  Output silent = Ctl("txns silent --hours 1");
  EXPECT_EQ(silent.code, 0) << silent.err;
  EXPECT_EQ(silent.out.find(terminal), std::string::npos) << silent.out;
  Output bad_day = Ctl("report daily --from 2026-13-01");
  EXPECT_NE(bad_day.code, 0);
  EXPECT_NE(bad_day.err.find("start_day: expected a day like 2026-11-23"), std::string::npos)
      << bad_day.err;
}

TEST_F(TxnE2eTest, TheLocalApiAdmitsItsUserAndConfiguredGroupAndNoOneElse) {
  // Another local user is played by setpriv, which needs root (CI runs as root).
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  agent_flags_ = {"--local-api-group", "daemon"};
  const std::string terminal = StartOnlineAgent();
  ASSERT_FALSE(terminal.empty());
  const std::string state = dir_ + "/agent-state";
  struct stat st;
  ASSERT_EQ(stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0710u);  // the group may enter, and list or read nothing
  EXPECT_EQ(st.st_gid, 1u);
  ASSERT_EQ(stat((state + "/agent.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, 1u);
  ASSERT_EQ(stat((state + "/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The payment application's tool, copied where other users may run it.
  ASSERT_EQ(
      testing::Run("chmod 0711 " + dir_ + " && cp " + BuildDir() + "/agent/main/posfleet-agent " +
                   dir_ + "/pay && chmod 0755 " + dir_ + "/pay"),
      0);
  auto status_as = [&](const std::string& ids) {
    return Capture("setpriv " + ids + " " + dir_ + "/pay --state-dir " + state + " txn status");
  };
  Output member = status_as("--reuid 65534 --regid 65534 --groups 1");
  EXPECT_EQ(member.code, 0) << member.err;
  EXPECT_NE(member.out.find("connected"), std::string::npos) << member.out;
  Output stranger = status_as("--reuid 65534 --regid 65534 --clear-groups");
  EXPECT_NE(stranger.code, 0) << stranger.out;

  // Someone loosens the socket and its directory to everyone: the file modes no longer stop a
  // stranger, its peer credentials still do.
  ASSERT_EQ(testing::Run("chmod 0777 " + state + "/agent.sock && chmod 0711 " + state), 0);
  Output after = status_as("--reuid 65534 --regid 65534 --clear-groups");
  EXPECT_NE(after.code, 0) << after.out;
  EXPECT_TRUE(testing::WaitFor([&] {
    return Slurp(dir_ + "/agent.log").find("local API: refused a connection from pid") !=
           std::string::npos;
  })) << Slurp(dir_ + "/agent.log");
  EXPECT_EQ(
      Capture(BuildDir() + "/agent/main/posfleet-agent --state-dir " + state + " txn status").code,
      0);
}

TEST_F(TxnE2eTest, CardNumbersInAnyFieldAreQuarantinedAndFoundNowhere) {
  // A state directory made beforehand open to everyone: the agent tightens it to 0700, and its
  // local API socket admits the agent's user alone.
  ASSERT_EQ(testing::Run("mkdir -m 0755 " + dir_ + "/agent-state"), 0);
  // A code on the command line is refused, not used.
  Output argv = Capture(BuildDir() + "/agent/main/posfleet-agent --state-dir " + dir_ +
                        "/agent-state --vendor PAX --serial SN-E2E --activation-code ABCDE-FGHJK");
  EXPECT_EQ(argv.code, 2);
  EXPECT_NE(argv.err.find("not on the command line"), std::string::npos) << argv.err;
  const std::string terminal = StartOnlineAgent();
  ASSERT_FALSE(terminal.empty());
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/agent-state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir_ + "/agent-state/agent.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Publish straight to the broker with the terminal's own certificate, as a compromised or
  // buggy agent would: the server must not trust the agent's checks.
  const char* kPans[] = {"4111111111111111",    "5500005555555559",    "378282246310005",
                         "6011000990139424",    "4012 8888 8888 1881", "3530-1113-3330-0000",
                         "4917610000000000003", "5105105105105100",    "4000056655665556"};
  const char* kFields[] = {"txn_id", "currency",  "response_code", "scheme", "masked_pan",
                           "stan",   "auth_code", "mid",           "tid"};
  v1::TxnBatch batch;
  batch.set_terminal_id(terminal);
  batch.set_batch_id(1);
  for (int i = 0; i < 9; ++i) {
    v1::TxnRecord r = Sale(absl::StrCat("pan-", i));
    r.set_seq(static_cast<uint64_t>(i + 1));
    const google::protobuf::FieldDescriptor* f = r.GetDescriptor()->FindFieldByName(kFields[i]);
    r.GetReflection()->SetString(&r, f, kPans[i]);
    *batch.add_records() = r;
  }
  v1::TxnRecord good = Sale("clean-1");
  good.set_seq(10);
  *batch.add_records() = good;
  const std::string file = dir_ + "/batch.bin";
  std::ofstream(file, std::ios::binary) << batch.SerializeAsString();
  const std::string state = dir_ + "/agent-state";
  const std::string tls =
      absl::StrCat(" -h 127.0.0.1 -p ", mqtt_port_, " --cafile ", state, "/ca.pem --cert ", state,
                   "/cert.pem --key ", state, "/key.pem ");
  // The broker binds the client id to the certificate: the terminal's own id.
  ASSERT_EQ(testing::Run("mosquitto_pub" + tls + "-i " + terminal + " -q 1 -t posfleet/v1/t/" +
                         terminal + "/up/txn -f " + file),
            0);
  for (const char* field : kFields) {
    EXPECT_TRUE(testing::WaitFor([&] {
      return Metric(absl::StrCat("posfleet_txn_quarantined_total{field=\"", field, "\"}")) == 1;
    })) << field;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Stored(terminal).first == 1; }));

  // The other link payloads, in every spelling the card-number rule folds: a heartbeat's versions,
  // and a retained status (which the broker would keep on disk).
  const char* kSpellings[] = {
      "4111.1111.1111.1111",
      "4111_1111_1111_1111",
      "4111  1111  1111  1111",
      "4111 - 1111 - 1111 - 1111",
      "4111/1111/1111/1111",
      "4111:1111:1111:1111",
      "4111\u00a01111\u00a01111\u00a01111",  // no-break spaces
      "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"
      "\uff11",  // fullwidth
  };
  constexpr int kSpellingCount = sizeof(kSpellings) / sizeof(kSpellings[0]);
  const int64_t text_before =
      Metric("posfleet_link_messages_total{kind=\"heartbeat\",result=\"text\"}");
  int n = 0;
  for (const char* pan : kSpellings) {
    v1::Heartbeat hb;
    hb.set_terminal_id(terminal);
    hb.set_session(1);
    (*hb.mutable_versions())["note"] = pan;
    v1::Status st;
    st.set_terminal_id(terminal);
    st.set_online(true);
    st.set_session(1);
    st.set_agent_version(pan);
    const std::string hb_file = absl::StrCat(dir_, "/hb", n, ".bin");
    const std::string st_file = absl::StrCat(dir_, "/st", n++, ".bin");
    std::ofstream(hb_file, std::ios::binary) << hb.SerializeAsString();
    std::ofstream(st_file, std::ios::binary) << st.SerializeAsString();
    ASSERT_EQ(testing::Run("mosquitto_pub" + tls + "-i " + terminal + " -q 1 -t posfleet/v1/t/" +
                           terminal + "/up/heartbeat -f " + hb_file),
              0);
    ASSERT_EQ(testing::Run("mosquitto_pub" + tls + "-i " + terminal + " -q 1 -r -t posfleet/v1/t/" +
                           terminal + "/up/status -f " + st_file),
              0);
  }
  EXPECT_TRUE(testing::WaitFor([&] {
    return Metric("posfleet_link_messages_total{kind=\"heartbeat\",result=\"text\"}") -
               text_before ==
           kSpellingCount;
  }));
  // The broker refused to keep each of those statuses. Counted in its log rather than read back:
  // publishing with the terminal's client id takes the agent's session over, and the agent's own
  // retained status, sent again when it reconnects, may replace one the broker should have
  // refused (a 48-byte fullwidth number, whose length byte reads as '0', once passed this way).
  EXPECT_TRUE(testing::WaitFor([&] {
    const std::string log = Slurp(broker_dir_ + "/mosquitto.log");
    int refused = 0;
    for (size_t at = 0; (at = log.find("refused a retained message", at)) != std::string::npos;
         ++at) {
      ++refused;
    }
    return refused == kSpellingCount;
  })) << Slurp(broker_dir_ + "/mosquitto.log");

  // The same spellings through the other ways in: the payment app's (the agent's command line,
  // which is its local API), the operator's (posfleetctl), and the API called directly, as a
  // client we did not write would. Each is refused with a message that does not echo it.
  const std::string agent_txn =
      BuildDir() + "/agent/main/posfleet-agent --state-dir " + dir_ + "/agent-state txn ";
  const std::string merchant =
      JsonField(Ctl("-o json terminals get " + terminal).out, "merchantId");
  ASSERT_FALSE(merchant.empty());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Slurp(CaFile());
  auto terminals = v1::TerminalService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::SslCredentials(ssl)));
  for (int i = 0; i < kSpellingCount; ++i) {
    const std::string pan = kSpellings[i];
    Output app = Capture(absl::StrCat(agent_txn, "record --txn-id sweep-", i,
                                      " --amount 1 --currency EUR --tid '", pan, "'"));
    EXPECT_EQ(app.code, 2) << pan;
    EXPECT_NE(app.err.find("tid: contains a card number"), std::string::npos) << app.err;
    Output ctl = Ctl("terminals create --merchant " + merchant +
                     " --vendor PAX --model A920 --serial '" + pan + "'");
    EXPECT_NE(ctl.code, 0) << pan;
    EXPECT_NE(ctl.err.find("card number"), std::string::npos) << ctl.err;
    Output name = Ctl("merchants update " + merchant + " --name 'Shop " + pan + "'");
    EXPECT_NE(name.code, 0) << pan;
    v1::CreateTerminalRequest req;
    req.mutable_terminal()->set_merchant_id(merchant);
    req.mutable_terminal()->set_vendor("PAX");
    req.mutable_terminal()->set_model(pan);
    req.mutable_terminal()->set_serial(absl::StrCat("SWEEP-", i));
    v1::Terminal created;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token_);
    const grpc::Status direct = terminals->CreateTerminal(&ctx, req, &created);
    EXPECT_EQ(direct.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << pan;
    EXPECT_NE(direct.error_message().find("card number"), std::string::npos)
        << direct.error_message();
    for (const std::string& said : {app.err, ctl.err, name.err, direct.error_message()}) {
      EXPECT_FALSE(ContainsPan(said)) << said;
    }
  }

  // Nowhere: not in the database (a full dump), not in the server's or agent's log, not in any
  // retained message.
  const std::string dump = dir_ + "/dump.sql";
  ASSERT_EQ(testing::Run("pg_dump '" + db_url_ + "' > " + dump), 0);
  const std::string retained = dir_ + "/retained.txt";
  // Every retained uplink, as the server reads them, and the terminal's retained downlinks, as
  // it reads them (each identity may read only its side).
  const std::string certs = broker_dir_ + "/certs";
  testing::Run(
      absl::StrCat("mosquitto_sub -h 127.0.0.1 -p ", mqtt_port_, " --cafile ", certs,
                   "/ca.pem --cert ", certs, "/posfleet-server.pem --key ", certs,
                   "/posfleet-server.key -i posfleet-server-scan -t 'posfleet/v1/t/+/up/#' "
                   "--retained-only -W 2 -v > ",
                   retained, " 2>/dev/null"));
  testing::Run("mosquitto_sub" + tls + "-i " + terminal + " -t 'posfleet/v1/t/" + terminal +
               "/down/#' --retained-only -W 2 -v >> " + retained + " 2>/dev/null");
  for (const std::string& where : {dump, dir_ + "/server.log", dir_ + "/agent.log", retained}) {
    const std::string text = Slurp(where);
    EXPECT_FALSE(text.empty() && where == dump) << "empty dump";
    EXPECT_FALSE(where == retained ? ContainsPanInBinary(text) : ContainsPan(text)) << where;
    for (const char* p : kPans) {
      EXPECT_EQ(text.find(absl::StrReplaceAll(p, {{" ", ""}, {"-", ""}})), std::string::npos)
          << where;
      EXPECT_EQ(text.find(p), std::string::npos) << where;
    }
    for (const char* p : kSpellings) {
      EXPECT_EQ(text.find(p), std::string::npos)
          << where << " holds " << p << " at " << text.find(p) << ": " << text;
    }
  }
}

}  // namespace
}  // namespace posfleet::e2e

// End to end: the built posfleet-server binary (its own process, real PostgreSQL) driven by the
// built posfleetctl binary, the way an operator uses them.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pan.h"
#include "common/random.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet::e2e {
namespace {

TEST_F(E2eTest, OperatorWorkflow) {
  Output tenant = Ctl("-o json tenants create 'Acme Acquiring'");
  ASSERT_EQ(tenant.code, 0) << tenant.err;
  const std::string tenant_id = JsonId(tenant.out);
  ASSERT_FALSE(tenant_id.empty()) << tenant.out;
  Output merchant = Ctl("-o json merchants create --tenant " + tenant_id +
                        " --name 'Cafe Nord' --mid M1 --country DE");
  ASSERT_EQ(merchant.code, 0) << merchant.err;
  const std::string merchant_id = JsonId(merchant.out);

  // An operator token for the tenant, created through the CLI.
  Output token = Ctl("-o json tokens create --name ops --role operator --tenant " + tenant_id);
  ASSERT_EQ(token.code, 0) << token.err;
  const size_t s = token.out.find("\"secret\": \"") + 11;
  const std::string op = token.out.substr(s, token.out.find('"', s) - s);
  ASSERT_EQ(op.size(), 56u);

  // Import a CSV with one bad row: the good rows land, the bad one is reported with its line.
  {
    std::ofstream csv(dir_ + "/fleet.csv");
    csv << "vendor,model,serial,merchant_id,tid,labels\n";
    for (int i = 0; i < 120; ++i) {
      csv << "PAX,A920,SN" << i << "," << merchant_id << ",T" << i << ","
          << (i % 3 == 0 ? "region=north;pilot=yes" : "region=south") << "\n";
    }
    csv << "PAX,A920,bad serial," << merchant_id << ",,\n";
  }
  Output imported = Ctl("terminals import " + dir_ + "/fleet.csv --batch-size 50", op);
  EXPECT_EQ(imported.code, 1);  // one row failed
  EXPECT_NE(imported.out.find("created 120, skipped 0 (already present), failed 1"),
            std::string::npos)
      << imported.out << imported.err;
  EXPECT_NE(imported.err.find("fleet.csv:122: serial:"), std::string::npos) << imported.err;
  Output again = Ctl("terminals import " + dir_ + "/fleet.csv", op);
  EXPECT_NE(again.out.find("created 0, skipped 120"), std::string::npos) << again.out;
  {
    std::ofstream csv(dir_ + "/strict.csv");
    csv << "vendor,model,serial,merchant_id\n"
        << "PAX,A80,NEW1," << merchant_id << "\n"
        << "PAX,A80,NEW2,mer_aaaaaaaaaaaaaaaaaaaa\n";  // unknown merchant: found by the server
  }
  Output strict = Ctl("terminals import --all-or-nothing " + dir_ + "/strict.csv", op);
  EXPECT_EQ(strict.code, 1);
  EXPECT_NE(strict.out.find("rolled back: nothing was created"), std::string::npos) << strict.out;
  EXPECT_NE(strict.err.find("strict.csv:3: merchant_id:"), std::string::npos) << strict.err;
  EXPECT_EQ(Ctl("terminals list --limit 0 -o json", op).out.find("NEW1"), std::string::npos);

  // List with a selector, as a table and as JSON.
  Output north = Ctl("terminals list -l 'region=north,pilot' --limit 0", op);
  ASSERT_EQ(north.code, 0) << north.err;
  std::vector<std::string> lines = absl::StrSplit(north.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + 40u);  // header + every third terminal
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  Output json = Ctl("-o json terminals list --limit 5", op);
  ASSERT_EQ(json.code, 0);
  EXPECT_NE(json.out.find("\"terminals\": ["), std::string::npos);
  EXPECT_NE(json.out.find("\"state\": \"TERMINAL_STATE_PROVISIONED\""), std::string::npos);
  EXPECT_TRUE(json.err.empty()) << json.err;  // JSON output keeps stderr quiet

  // Label, suspend with a reason, and see it all in the audit log.
  const std::string terminal_id = JsonId(json.out.substr(json.out.find("\"terminals\"")));
  ASSERT_EQ(Ctl("terminals label " + terminal_id + " site=berlin region-", op).code, 0);
  Output got = Ctl("terminals get " + terminal_id, op);
  EXPECT_NE(got.out.find("site=berlin"), std::string::npos) << got.out;
  EXPECT_EQ(got.out.find("region="), std::string::npos) << got.out;
  ASSERT_EQ(Ctl("terminals suspend " + terminal_id + " --reason 'field check'", op).code, 0);
  Output suspended = Ctl("-o json terminals list --state suspended", op);
  EXPECT_EQ(JsonId(suspended.out.substr(suspended.out.find("\"terminals\""))), terminal_id);
  EXPECT_EQ(suspended.out.find("TERMINAL_STATE_PROVISIONED"), std::string::npos);
  Output audit = Ctl("audit list --target " + terminal_id, op);
  EXPECT_NE(audit.out.find("TerminalService.SuspendTerminal"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("field check"), std::string::npos);

  // A technician's activation code for another terminal.
  const std::string other_id = JsonId(json.out.substr(json.out.rfind("\"id\": \"trm_")));
  Output code = Ctl("terminals activation-code " + other_id + " --ttl 30", op);
  ASSERT_EQ(code.code, 0) << code.err;
  EXPECT_NE(code.out.find("activation code for " + other_id), std::string::npos) << code.out;
  EXPECT_EQ(Ctl("terminals activation-code " + other_id + " --ttl 1", op).code, 2);

  // Retire is final: the CLI says why and exits non-zero.
  ASSERT_EQ(Ctl("terminals retire " + terminal_id, op).code, 0);
  Output refused = Ctl("terminals reactivate " + terminal_id, op);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("FAILED_PRECONDITION"), std::string::npos) << refused.err;
}

// Card numbers in every spelling the attack on issue 14 used, through every text input of
// posfleetctl: each is refused before it is sent, and afterwards no Luhn-valid card number is in
// the database (a full dump) or the server's log. (The server applies the same rule to every
// request field itself: tests/server/api/text_guard_api_test.cc.)
TEST_F(E2eTest, CardNumbersInAnySpellingAreRefusedAtEveryCliInput) {
  const std::string tenant = JsonField(Ctl("-o json tenants create Acme").out, "id");
  const std::string merchant = JsonField(
      Ctl("-o json merchants create --tenant " + tenant + " --name M --mid M1").out, "id");
  const std::string terminal = JsonField(Ctl("-o json terminals create --merchant " + merchant +
                                             " --vendor PAX --model A920 --serial S1")
                                             .out,
                                         "id");
  ASSERT_FALSE(terminal.empty());
  ASSERT_EQ(Ctl("config schema set receipt.header --tenant " + tenant + " --type string").code, 0);
  const std::vector<std::string> forms = {
      "4111.1111.1111.1111",
      "4111_1111_1111_1111",
      "4111:1111:1111:1111",
      "4111/1111/1111/1111",
      "4111  1111  1111  1111",
      "4111 - 1111 - 1111 - 1111",
      "4111\u00a01111\u00a01111\u00a01111",
      "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"
      "\uff11",
  };
  int refused = 0;
  for (const std::string& pan : forms) {
    const std::string q = "'" + pan + "'";
    const std::vector<std::string> inputs = {
        "tenants create " + q,
        "merchants create --tenant " + tenant + " --name " + q + " --mid M9",
        "terminals create --merchant " + merchant + " --vendor PAX --model A920 --serial " + q,
        "terminals create --merchant " + merchant + " --vendor " + q + " --model A920 --serial S9",
        "terminals label " + terminal + " note=" + q,
        "terminals suspend " + terminal + " --reason " + q,
        "config set --tenant " + tenant + " receipt.header=" + q,
        "config set --tenant " + tenant + " receipt.header=ok -m " + q,
        "config group set " + q + " --tenant " + tenant + " --selector region=north --priority 5",
        "config schema set receipt.footer --tenant " + tenant + " --type string --default " + q,
        "tokens create --name " + q + " --role viewer --tenant " + tenant,
    };
    for (const std::string& input : inputs) {
      Output o = Ctl(input);
      EXPECT_NE(o.code, 0) << input;
      EXPECT_NE(o.err.find("card number"), std::string::npos) << input << ": " << o.err;
      EXPECT_NE(o.err.find("not sent"), std::string::npos) << input << ": " << o.err;
      EXPECT_FALSE(ContainsPan(o.err)) << input;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 88);
  const std::string dump = dir_ + "/dump.sql";
  ASSERT_EQ(testing::Run("pg_dump '" + db_url_ + "' > " + dump), 0);
  EXPECT_FALSE(Slurp(dump).empty());
  EXPECT_FALSE(ContainsPan(Slurp(dump)));
  EXPECT_FALSE(ContainsPan(Slurp(dir_ + "/server.log")));
}

// Two admins editing at once, with the CLI: a dry run says which revision it was made on, a
// commit conditioned on it is refused once someone else committed, and list items added one
// after the other both stay (neither admin's addition replaces the other's).
TEST_F(E2eTest, ConfigEditsAreNeverLostSilently) {
  const std::string tenant = JsonId(Ctl("-o json tenants create Acme").out);
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set currencies --type list --default '[\"EUR\",\"USD\"]'" + t).code,
            0);
  ASSERT_EQ(Ctl("config schema set receipt.header --type string" + t).code, 0);
  Output preview = Ctl("config set --dry-run" + t + " receipt.header=Mine");
  ASSERT_EQ(preview.code, 0) << preview.err;
  const size_t at = preview.out.find("--if-revision ");
  ASSERT_NE(at, std::string::npos) << preview.out;
  const std::string base = preview.out.substr(at + 14, preview.out.find(' ', at + 14) - at - 14);
  ASSERT_EQ(Ctl("config set" + t + " receipt.header=Theirs").code, 0);
  Output stale = Ctl("config set --if-revision " + base + t + " receipt.header=Mine");
  EXPECT_NE(stale.code, 0);
  EXPECT_NE(stale.err.find("changed since"), std::string::npos) << stale.err;
  EXPECT_NE(Ctl("config layers" + t).out.find("Theirs"), std::string::npos);

  ASSERT_EQ(Ctl("config set" + t + " currencies+=CHF").code, 0);
  ASSERT_EQ(Ctl("config set" + t + " 'currencies+=[\"GBP\"]'").code, 0);
  ASSERT_EQ(Ctl("config set" + t + " currencies-=USD").code, 0);
  Output layers = Ctl("config layers" + t);
  EXPECT_NE(layers.out.find("[\"EUR\",\"CHF\",\"GBP\"]"), std::string::npos) << layers.out;
}

// A schema change names only what it changes: the rest of the spec stays (issue 16: a partial
// `schema set` dropped the default of 142 terminals), and dropping a field is asked for.
TEST_F(E2eTest, APartialSchemaChangeKeepsWhatItDoesNotName) {
  const std::string tenant = JsonId(Ctl("-o json tenants create Acme").out);
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set host.timeout --type duration --min 5 --max 30 --default 20s "
                "--description 'host answer time'" +
                t)
                .code,
            0);
  Output wider = Ctl("config schema set host.timeout --max 60" + t);
  ASSERT_EQ(wider.code, 0) << wider.err;
  EXPECT_NE(wider.out.find("host.timeout (max 30 -> 60)"), std::string::npos) << wider.out;
  Output schema = Ctl("-o json config schema get" + t);
  EXPECT_NE(schema.out.find("\"defaultValue\": \"20s\""), std::string::npos) << schema.out;
  EXPECT_NE(schema.out.find("\"min\": 5"), std::string::npos) << schema.out;
  EXPECT_NE(schema.out.find("\"max\": 60"), std::string::npos) << schema.out;
  EXPECT_NE(schema.out.find("host answer time"), std::string::npos) << schema.out;

  Output cleared = Ctl("config schema set host.timeout --clear default,min" + t);
  ASSERT_EQ(cleared.code, 0) << cleared.err;
  EXPECT_NE(cleared.out.find("min 5 removed"), std::string::npos) << cleared.out;
  EXPECT_NE(cleared.out.find("default \"20s\" removed"), std::string::npos) << cleared.out;
  EXPECT_EQ(Ctl("-o json config schema get" + t).out.find("defaultValue"), std::string::npos);

  Output untyped = Ctl("config schema set new.key --max 3" + t);
  EXPECT_EQ(untyped.code, 2);
  EXPECT_NE(untyped.err.find("new.key is a new key: give its --type"), std::string::npos)
      << untyped.err;

  // A rename moves the spec and the values, and is a documented verb, not a usage error.
  ASSERT_EQ(Ctl("config set" + t + " host.timeout=45s").code, 0);
  Output renamed = Ctl("config schema rename host.timeout host.answer_timeout" + t);
  ASSERT_EQ(renamed.code, 0) << renamed.err;
  EXPECT_NE(renamed.out.find("renamed host.timeout -> host.answer_timeout"), std::string::npos)
      << renamed.out;
  Output layers = Ctl("-o json config layers" + t);
  EXPECT_NE(layers.out.find("\"host.answer_timeout\": \"45s\""), std::string::npos) << layers.out;
  EXPECT_EQ(layers.out.find("\"host.timeout\""), std::string::npos) << layers.out;
}

TEST_F(E2eTest, ErrorsAreClearAndExitNonZero) {
  Output no_token = Ctl("terminals list", "pft_" + std::string(52, 'z'));
  EXPECT_EQ(no_token.code, 1);
  EXPECT_NE(no_token.err.find("UNAUTHENTICATED"), std::string::npos) << no_token.err;
  Output missing = Ctl("terminals get trm_aaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos);
  Output bad_id = Ctl("terminals get nonsense");
  EXPECT_EQ(bad_id.code, 1);
  EXPECT_NE(bad_id.err.find("INVALID_ARGUMENT: id:"), std::string::npos) << bad_id.err;
  Output bad_flag = Ctl("terminals list --state sideways");
  EXPECT_EQ(bad_flag.code, 2);
  EXPECT_EQ(Ctl("terminals list --online --offline").code, 2);
  EXPECT_EQ(Ctl("terminals list --offline-for soon").code, 2);
  EXPECT_EQ(Ctl("terminals list --battery-below 0").code, 2);
  EXPECT_EQ(Ctl("terminals list --paper jammed").code, 2);
  Output software = Ctl("terminals list --software payment-app");
  EXPECT_EQ(software.code, 1);
  EXPECT_NE(software.err.find("software: expected component=version"), std::string::npos)
      << software.err;
  Output offline = Ctl("terminals list --offline-for 1h");
  EXPECT_EQ(offline.code, 0) << offline.err;
  Output no_file = Ctl("terminals import /nonexistent.csv");
  EXPECT_EQ(no_file.code, 2);
  EXPECT_NE(no_file.err.find("cannot read"), std::string::npos);
  Output unreachable = Ctl("--server 127.0.0.1:1 --timeout 3 terminals list");
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_NE(unreachable.err.find("UNAVAILABLE"), std::string::npos) << unreachable.err;
}

TEST_F(E2eTest, TheServerDoesNotStartWithoutAnActivationCodeKey) {
  const std::string server = absl::StrCat(BuildDir(), "/server/main/posfleet-server --db-url '",
                                          testing::RuntimeUrl(db_url_), "' --owner-db-url '",
                                          db_url_, "' --listen 127.0.0.1:0 --metrics-listen ''");
  Output none = Capture(server);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE((none.out + none.err).find("--code-key-file: is required"), std::string::npos)
      << none.err;
  std::ofstream(dir_ + "/short.key") << "abcd\n";
  Output bad = Capture(server + " --code-key-file " + dir_ + "/short.key");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE((bad.out + bad.err).find("must hold 64 hex digits"), std::string::npos) << bad.err;
  EXPECT_EQ((bad.out + bad.err).find("abcd"), std::string::npos);  // a key is never echoed
}

TEST_F(E2eTest, MetricsCountRejectedCallsAndHealthzFollowsTheDatabase) {
  ASSERT_EQ(Ctl("terminals get nonsense").code, 1);
  ASSERT_EQ(Ctl("terminals list", "pft_" + std::string(52, 'z')).code, 1);
  httplib::Client http("127.0.0.1", metrics_port_);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find(
                "posfleet_api_requests_total{method=\"GetTerminal\",code=\"INVALID_ARGUMENT\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(
                "posfleet_api_requests_total{method=\"ListTerminals\",code=\"UNAUTHENTICATED\"} 1"),
            std::string::npos);
  auto healthz_status = [&] {
    auto r = http.Get("/healthz");
    return r ? r->status : -1;
  };
  EXPECT_EQ(healthz_status(), 200);

  // The database goes away: /healthz says so, calls are UNAVAILABLE (retryable), and both recover
  // when it is back, without restarting the server.
  TestPostgres::Get().Stop(/*crash=*/false);
  EXPECT_TRUE(testing::WaitFor([&] { return healthz_status() == 503; }));
  Output down = Ctl("tokens whoami");
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.err.find("UNAVAILABLE"), std::string::npos) << down.err;
  TestPostgres::Get().Start();
  EXPECT_TRUE(testing::WaitFor([&] { return healthz_status() == 200; }));
  EXPECT_TRUE(testing::WaitFor([&] { return Ctl("tokens whoami").code == 0; }));
}

// The API over TLS: the server with --tls-cert/--tls-key, posfleetctl trusting it with --tls-ca.
class E2eTlsTest : public E2eTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/posfleet-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    certs_ = tmpl;
    ASSERT_EQ(testing::Run(absl::StrCat(
                  "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                  "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ",
                  certs_, "/key.pem -out ", certs_, "/cert.pem 2>/dev/null")),
              0);
    E2eTest::SetUp();
  }
  void TearDown() override {
    E2eTest::TearDown();
    testing::Run("rm -rf " + certs_);
  }
  std::vector<std::string> ServerFlags() override {
    return {"--tls-cert", certs_ + "/cert.pem", "--tls-key", certs_ + "/key.pem"};
  }
  std::string CtlFlags() override { return "--tls-ca " + certs_ + "/cert.pem"; }

  std::string certs_;
};

TEST_F(E2eTlsTest, CtlTalksTlsAndPlaintextIsRefused) {
  Output me = Ctl("tokens whoami");
  EXPECT_EQ(me.code, 0) << me.err;
  EXPECT_NE(me.out.find("bootstrap admin"), std::string::npos);
  // Without the CA the CLI speaks plaintext, which a TLS listener refuses.
  const std::string plain =
      absl::StrCat("POSFLEET_SERVER=127.0.0.1:", port_, " POSFLEET_TOKEN=", token_, " ", BuildDir(),
                   "/tools/posfleetctl/posfleetctl --timeout 3 tokens whoami "
                   ">/dev/null 2>&1");
  EXPECT_EQ(testing::Run(plain), 1);
}

TEST_F(E2eTest, EveryVerbHasHelp) {
  for (const char* verb : {"",
                           "terminals",
                           "terminals list",
                           "terminals get",
                           "terminals history",
                           "terminals watch",
                           "fleet",
                           "fleet summary",
                           "terminals create",
                           "terminals import",
                           "terminals label",
                           "terminals activation-code",
                           "terminals update",
                           "terminals suspend",
                           "terminals reactivate",
                           "terminals retire",
                           "merchants",
                           "merchants list",
                           "merchants create",
                           "merchants get",
                           "merchants update",
                           "merchants delete",
                           "tenants",
                           "tenants list",
                           "tenants create",
                           "tenants get",
                           "tenants rename",
                           "tenants delete",
                           "tokens",
                           "tokens create",
                           "tokens list",
                           "tokens revoke",
                           "tokens whoami",
                           "audit",
                           "audit list"}) {
    Output help = Ctl(std::string(verb) + " --help");
    EXPECT_EQ(help.code, 0) << verb << ": " << help.err;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << verb;
  }
}

TEST_F(E2eLinkTest, AnEnrolledAgentIsOnlineWithHealthAndGoesOfflineWhenKilled) {
  const std::string tenant = JsonId(Ctl("-o json tenants create Acme").out);
  const std::string merchant =
      JsonId(Ctl("-o json merchants create --tenant " + tenant + " --name Shop --mid M1").out);
  const std::string terminal = JsonId(Ctl("-o json terminals create --merchant " + merchant +
                                          " --vendor PAX --model A920 "
                                          "--serial SN-E2E")
                                          .out);
  ASSERT_FALSE(terminal.empty());
  Output code = Ctl("-o json terminals activation-code " + terminal);
  ASSERT_EQ(code.code, 0) << code.err;
  const size_t at = code.out.find("\"code\": \"") + 9;
  const std::string activation = code.out.substr(at, code.out.find('"', at) - at);

  // First start: enrolls, connects, reports.
  pid_t agent = StartAgent(activation);
  auto shows = [&](const std::string& text) {
    return Ctl("terminals get " + terminal).out.find(text) != std::string::npos;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return shows("online") && shows("uptime"); }))
      << Ctl("terminals get " + terminal).out << Slurp(dir_ + "/agent.log");
  EXPECT_TRUE(shows("active"));  // enrollment activated it
  EXPECT_NE(Ctl("terminals list --online").out.find(terminal), std::string::npos);
  struct stat key {};
  ASSERT_EQ(stat((dir_ + "/agent-state/key.pem").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600);

  // Every heartbeat is in its health history (the server runs with --health-history-every 0).
  ASSERT_TRUE(testing::WaitFor([&] {
    Output h = Ctl("-o json terminals history " + terminal + " --since 1h --limit 3");
    return h.code == 0 && h.out.find("\"session\": \"1\"") != std::string::npos &&
           h.out.find("\"uptimeSeconds\"") != std::string::npos;
  })) << Ctl("terminals history " + terminal).out;
  Output history = Ctl("terminals history " + terminal);
  EXPECT_EQ(history.code, 0) << history.err;
  EXPECT_NE(history.out.find("BATTERY"), std::string::npos) << history.out;
  EXPECT_EQ(Ctl("terminals history " + terminal + " --since yesterday").code, 2);

  Output summary = Ctl("fleet summary");
  EXPECT_NE(summary.out.find("online 1, offline 0, never seen 0"), std::string::npos)
      << summary.out << summary.err;
  EXPECT_NE(summary.out.find("PAX A920"), std::string::npos) << summary.out;

  // A technician watching the fleet sees the terminal drop.
  const std::string watch_out = dir_ + "/watch.out";
  ASSERT_EQ(testing::Run(absl::StrCat("POSFLEET_SERVER=127.0.0.1:", port_, " POSFLEET_TOKEN=",
                                      token_, " ", BuildDir(), "/tools/posfleetctl/posfleetctl ",
                                      CtlFlags(), " terminals watch --changes-only --for 60 >",
                                      watch_out, " 2>&1 & echo $! >", dir_, "/watch.pid")),
            0);
  ASSERT_TRUE(testing::WaitFor([&] {
    return Slurp(watch_out).find("watching for changes") != std::string::npos;
  })) << Slurp(watch_out);

  // Killed without a goodbye: the broker's Will makes it offline.
  kill(agent, SIGKILL);
  waitpid(agent, nullptr, 0);
  agents_.clear();
  EXPECT_TRUE(testing::WaitFor([&] { return shows("offline"); }))
      << Ctl("terminals get " + terminal).out;
  EXPECT_TRUE(testing::WaitFor([&] {
    const std::string w = Slurp(watch_out);
    return w.find(terminal) != std::string::npos && w.find("offline") != std::string::npos;
  })) << Slurp(watch_out);
  kill(std::atoi(Slurp(dir_ + "/watch.pid").c_str()), SIGTERM);

  // Restarted without a code: the state directory remembers who it is (session 2).
  agent = StartAgent("");
  EXPECT_TRUE(testing::WaitFor([&] { return shows("online"); })) << Slurp(dir_ + "/agent.log");
  EXPECT_NE(Slurp(dir_ + "/agent.log").find("(session 2)"), std::string::npos);

  // A clean stop says goodbye itself.
  const bool clean = StopsCleanly(agent);
  agents_.clear();
  EXPECT_TRUE(clean) << Slurp(dir_ + "/agent.log");
  EXPECT_TRUE(testing::WaitFor([&] { return shows("offline"); }));
}

}  // namespace
}  // namespace posfleet::e2e

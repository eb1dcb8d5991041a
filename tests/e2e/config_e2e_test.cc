// Parameters end to end with every part real: changes made with posfleetctl reach the
// posfleet-agent binary through posfleet-server, PostgreSQL and Mosquitto; the agent applies them
// and reports; `config get`, `config explain` and `config drift` tell the truth, including for a
// terminal that was offline and for a set the agent refused.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/secret_box.h"
#include "posfleet/v1/agent_local.grpc.pb.h"
#include "posfleet/v1/config.pb.h"
#include "tests/e2e/e2e_harness.h"

namespace posfleet::e2e {
namespace {

class ConfigE2eTest : public E2eLinkTest {
 protected:
  void BeforeServer(const std::string& url) override {
    E2eLinkTest::BeforeServer(url);
    std::ofstream(dir_ + "/params.key") << std::string(64, 'a') << "\n";
  }
  std::vector<std::string> ServerFlags() override {
    std::vector<std::string> flags = E2eLinkTest::ServerFlags();
    flags.insert(flags.end(),
                 {"--params-key-file", dir_ + "/" + key_file_, "--config-refresh", "1"});
    for (const std::string& retired : retired_key_files_) {
      flags.insert(flags.end(), {"--params-retired-key-file", dir_ + "/" + retired});
    }
    return flags;
  }
  // Restarts the server (same database) with `key` current and `retired` still opening.
  void RestartServerWithKeys(const std::string& key, std::vector<std::string> retired) {
    ASSERT_TRUE(StopsCleanly(server_)) << Slurp(dir_ + "/server.log");
    server_ = -1;
    key_file_ = key;
    retired_key_files_ = std::move(retired);
    StartServer(/*same_database=*/true);
  }
  Output Reseal(const std::string& key, const std::string& retired) {
    return Capture(
        absl::StrCat(BuildDir(), "/server/main/posfleet-server --db-url '", db_url_,
                     "' params-reseal --params-key-file ", dir_, "/", key,
                     retired.empty() ? "" : " --params-retired-key-file " + dir_ + "/" + retired));
  }
  // Every sealed value in every stored revision, sorted.
  std::vector<std::string> StoredSealedValues() {
    pqxx::connection conn(db_url_);
    std::vector<std::string> out;
    for (const pqxx::row& row :
         pqxx::nontransaction(conn).exec("SELECT encode(state, 'base64') FROM config_revisions")) {
      std::string bytes;
      EXPECT_TRUE(absl::Base64Unescape(row[0].c_str(), &bytes));
      v1::ConfigDocument doc;
      EXPECT_TRUE(doc.ParseFromString(bytes));
      for (const auto& [id, layer] : doc.terminals()) {
        for (const auto& [k, v] : layer.values()) {
          if (IsSealed(v)) out.push_back(v);
        }
      }
    }
    std::sort(out.begin(), out.end());  // rows come in no particular order
    return out;
  }

  std::string key_file_ = "params.key";
  std::vector<std::string> retired_key_files_;

  // The agent's parameter set in force, through its local API, as the payment app sees it.
  v1::GetConfigResponse AgentConfig() {
    auto stub = v1::AgentLocal::NewStub(grpc::CreateChannel(
        "unix:" + dir_ + "/agent-state/agent.sock", grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetConfigResponse resp;
    (void)stub->GetConfig(&ctx, {}, &resp);
    return resp;
  }

  // Provisions a terminal, starts its agent and waits until it is online; returns tenant and
  // terminal ids.
  std::pair<std::string, std::string> OnlineTerminal() {
    auto [terminal, code] = ProvisionTerminal("SN-E2E");
    const std::string tenant = JsonField(Ctl("-o json terminals get " + terminal).out, "tenantId");
    agent_ = StartAgent(code);
    EXPECT_TRUE(testing::WaitFor([&, t = terminal] {
      return Ctl("terminals get " + t).out.find("online") != std::string::npos;
    })) << Slurp(dir_ + "/agent.log");
    return {tenant, terminal};
  }

  void StopAgent() {
    kill(agent_, SIGTERM);
    waitpid(agent_, nullptr, 0);
    agents_.erase(std::find(agents_.begin(), agents_.end(), agent_));
  }

  // Publishes `payload` as the terminal's retained down/config, with the server's certificate:
  // what a stale, replayed or tampered set looks like to the agent. The exit code of
  // mosquitto_pub.
  int PublishAsServer(const std::string& terminal, const std::string& payload) {
    std::ofstream(dir_ + "/forged.pb", std::ios::binary) << payload;
    const std::string certs = broker_dir_ + "/certs";
    return testing::Run(
        absl::StrCat("mosquitto_pub -h 127.0.0.1 -p ", mqtt_port_, " --cafile ", certs,
                     "/ca.pem --cert ", certs, "/posfleet-server.pem --key ", certs,
                     "/posfleet-server.key -i posfleet-server-e2e -q 1 -r -t posfleet/v1/t/",
                     terminal, "/down/config -f ", dir_, "/forged.pb"));
  }

  // Whether `config get` says the terminal runs the set it should.
  bool InSync(const std::string& terminal) {
    return Ctl("config get " + terminal).out.find("state: in-sync") != std::string::npos;
  }

  // A one-key set of contactless.limit (decimal, at most 500) = `value` for `terminal`, with the
  // desired revision and hash that `status` (`-o json config get`) names: what a stale, replayed
  // or tampered set published on the terminal's topic looks like.
  static v1::ConfigSet LimitSet(const std::string& terminal, const std::string& status,
                                const std::string& value) {
    v1::ConfigSet set;
    set.set_terminal_id(terminal);
    set.set_revision(std::stoull(JsonField(status, "desiredRevision")));
    set.set_hash(JsonField(status, "desiredHash"));
    v1::ConfigSet::Param* p = set.add_params();
    p->mutable_spec()->set_key("contactless.limit");
    p->mutable_spec()->set_type(v1::PARAM_TYPE_DECIMAL);
    p->mutable_spec()->set_max(500);
    p->set_value(value);
    return set;
  }

  pid_t agent_ = -1;
  static constexpr char kPublished[] = "posfleet_config_publishes_total{result=\"ok\"}";
};

TEST_F(ConfigE2eTest, AChangeReachesTheTerminalAndExplainAndDriftTellTheTruth) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set receipt.header --type string --max-length 40" + t).code, 0);
  Output s =
      Ctl("config schema set contactless.limit --type decimal --min 0 --max 500 "
          "--default 50" +
          t);
  ASSERT_EQ(s.code, 0) << s.err;
  ASSERT_EQ(Ctl("config schema set host.password --type string --secret" + t).code, 0);
  ASSERT_EQ(Ctl("config set --tenant " + tenant + " receipt.header=Acme").code, 0);

  // A dry run counts the terminal and commits nothing; the commit then changes exactly that.
  Output dry = Ctl("config set --terminal " + terminal + " contactless.limit=45 --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("changing 1 terminal(s)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("\"50\""), std::string::npos) << dry.out;  // before: the default
  Output set = Ctl("config set --terminal " + terminal +
                   " contactless.limit=45 host.password=s3cr3t-Pw -m 'pilot limit'");
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_NE(set.out.find("1 terminal(s) get a new parameter set"), std::string::npos) << set.out;

  // The agent applies it; the payment app reads it, the secret included.
  ASSERT_TRUE(testing::WaitFor([&] {
    v1::GetConfigResponse c = AgentConfig();
    return c.values().count("host.password") == 1 && c.values().at("host.password") == "s3cr3t-Pw";
  })) << Slurp(dir_ + "/agent.log");
  v1::GetConfigResponse applied = AgentConfig();
  EXPECT_EQ(applied.values().at("receipt.header"), "Acme");
  EXPECT_EQ(applied.values().at("contactless.limit"), "45");
  EXPECT_EQ(applied.secret_keys_size(), 1);

  // The server hears the report: in sync.
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }))
      << Ctl("config get " + terminal).out;
  Output drift = Ctl("config drift" + t);
  EXPECT_NE(drift.out.find("in sync 1, pending 0, rejected 0"), std::string::npos) << drift.out;
  Output get = Ctl("config get " + terminal);
  EXPECT_NE(get.out.find("terminal " + terminal), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("(secret, set)"), std::string::npos) << get.out;

  Output why = Ctl("config explain " + terminal + " contactless.limit");
  ASSERT_EQ(why.code, 0) << why.err;
  EXPECT_NE(why.out.find("* \"45\"  terminal override: wins over schema default"),
            std::string::npos)
      << why.out;
  EXPECT_NE(why.out.find("\"50\"  schema default: overridden by terminal override"),
            std::string::npos)
      << why.out;

  // The secret appears nowhere but on the terminal: not in any output, log or table in clear.
  std::string everything = get.out + why.out + drift.out + set.out + Ctl("config layers" + t).out +
                           Ctl("config history" + t).out +
                           Ctl("-o json config get " + terminal).out +
                           Ctl("audit list --limit 100").out + Slurp(dir_ + "/server.log");
  EXPECT_EQ(everything.find("s3cr3t"), std::string::npos);
  pqxx::connection conn(db_url_);
  EXPECT_EQ(pqxx::nontransaction(conn)
                .exec("SELECT count(*) FROM config_revisions WHERE position('s3cr3t'::bytea IN "
                      "state) > 0")[0][0]
                .as<int64_t>(),
            0);

  // Restore the revision before the terminal override: back to the default on the terminal.
  Output restore = Ctl("config restore 4" + t);
  ASSERT_EQ(restore.code, 0) << restore.err;
  ASSERT_TRUE(testing::WaitFor([&] {
    v1::GetConfigResponse c = AgentConfig();
    return c.values().count("contactless.limit") == 1 &&
           c.values().at("contactless.limit") == "50" && c.values().count("host.password") == 0;
  })) << Slurp(dir_ + "/agent.log");
}

TEST_F(ConfigE2eTest, AnOfflineTerminalGetsTheNewestSetOncePublishedPerChange) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  // A second terminal in the same merchant, provisioned and never enrolled.
  const std::string merchant =
      JsonField(Ctl("-o json terminals get " + terminal).out, "merchantId");
  const std::string idle = JsonId(Ctl("-o json terminals create --merchant " + merchant +
                                      " --vendor PAX --model A920 --serial SN-IDLE")
                                      .out);
  ASSERT_FALSE(idle.empty());
  const int64_t before_schema = Metric(kPublished);
  ASSERT_EQ(Ctl("config schema set receipt.header --type string" + t).code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }));
  // Both sets are with the broker (the idle terminal's waits there, retained).
  ASSERT_TRUE(testing::WaitFor([&] { return Metric(kPublished) == before_schema + 2; }));
  StopAgent();
  const int64_t published = Metric(kPublished);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " receipt.header=One").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return Metric(kPublished) == published + 1; }));
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " receipt.header=Two").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return Metric(kPublished) == published + 2; }));
  // Drift says why each terminal is pending: this one is off, the other was never enrolled.
  Output pending;
  ASSERT_TRUE(testing::WaitFor([&] {
    pending = Ctl("config drift" + t);
    return pending.out.find("pending 2") != std::string::npos &&
           pending.out.find("offline since") != std::string::npos;
  })) << pending.out;
  EXPECT_NE(pending.out.find(terminal), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find(idle), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find("never enrolled"), std::string::npos) << pending.out;
  EXPECT_NE(Ctl("config get " + terminal).out.find("pending (desired revision"), std::string::npos);
  EXPECT_NE(Ctl("config get " + terminal).out.find(": offline since"), std::string::npos);

  agent_ = StartAgent("");
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); })) << Slurp(dir_ + "/agent.log");
  EXPECT_EQ(AgentConfig().values().at("receipt.header"), "Two");
  // Coming back did not publish again: the broker kept the set.
  EXPECT_EQ(Metric(kPublished), published + 2);
}

TEST_F(ConfigE2eTest, TheAgentRefusesAnInvalidSetKeepsTheOldOneAndDriftSaysWhy) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set contactless.limit --type decimal --max 500" + t).code, 0);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=45").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }));
  const v1::GetConfigResponse good = AgentConfig();
  ASSERT_EQ(good.values().at("contactless.limit"), "45");

  // While the terminal is off, the server publishes a new set; then that retained set is replaced
  // by one with the same revision and hash but a value its own spec refuses, published on the
  // terminal's topic as the server would (its certificate): what a corrupted or tampered set
  // looks like to the agent.
  StopAgent();
  const int64_t published = Metric(kPublished);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=40").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return Metric(kPublished) == published + 1; }));
  const std::string status = Ctl("-o json config get " + terminal).out;
  const v1::ConfigSet bad = LimitSet(terminal, status, "900");
  ASSERT_NE(bad.hash(), good.hash());
  ASSERT_EQ(PublishAsServer(terminal, bad.SerializeAsString()), 0);
  agent_ = StartAgent("");
  ASSERT_TRUE(testing::WaitFor([&] {
    return Ctl("config get " + terminal).out.find("state: rejected") != std::string::npos;
  })) << Slurp(dir_ + "/agent.log");
  Output drift = Ctl("config drift --state rejected" + t);
  EXPECT_NE(drift.out.find(terminal), std::string::npos) << drift.out;
  EXPECT_NE(drift.out.find("contactless.limit"), std::string::npos) << drift.out;
  // The previous set stays in force on the terminal.
  EXPECT_EQ(AgentConfig().values().at("contactless.limit"), "45");
  EXPECT_EQ(AgentConfig().hash(), good.hash());

  // The next change replaces the bad retained set and the terminal is in sync again.
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=35").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); })) << Slurp(dir_ + "/agent.log");
  EXPECT_EQ(AgentConfig().values().at("contactless.limit"), "35");
}

// An older set on the terminal's topic (a late publish, a replay: revision 5 once replaced 233)
// is refused; the terminal reports the refusal, and the server, seeing a report of something
// other than what it wants, publishes the right set again instead of waiting for a reconnect.
// A payload that is no set at all goes the same way.
TEST_F(ConfigE2eTest, AStaleOrUnreadableSetIsRefusedAndTheServerPublishesTheRightOneAgain) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set contactless.limit --type decimal --max 500" + t).code, 0);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=45").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }));
  const std::string old_status = Ctl("-o json config get " + terminal).out;
  v1::ConfigSet stale = LimitSet(terminal, old_status, "45");
  stale.set_schema_version(1);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=40").code, 0);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return InSync(terminal) && AgentConfig().values().at("contactless.limit") == "40"; }));
  const std::string current = AgentConfig().hash();

  for (const std::string& payload : {stale.SerializeAsString(), std::string("\xff\xff garbage")}) {
    const int64_t published = Metric(kPublished);
    ASSERT_EQ(PublishAsServer(terminal, payload), 0);
    // The server publishes its set again: nobody changed anything, and no reconnect.
    ASSERT_TRUE(testing::WaitFor([&] { return Metric(kPublished) > published; }))
        << Slurp(dir_ + "/agent.log");
    ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }));
    EXPECT_EQ(AgentConfig().values().at("contactless.limit"), "40");
    EXPECT_EQ(AgentConfig().hash(), current);
  }
  const std::string log = Slurp(dir_ + "/agent.log");
  EXPECT_NE(log.find("is older than revision"), std::string::npos) << log;
  EXPECT_NE(log.find("not a parameter set"), std::string::npos) << log;
}

// The terminal validates each value against the spec sent with it, so a change to a spec alone
// (a lower maximum) is a new set: it is published, and the agent runs and reports it.
TEST_F(ConfigE2eTest, AChangeOnlyToASpecReachesTheTerminal) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set contactless.limit --type decimal --max 500" + t).code, 0);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " contactless.limit=45").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); }));
  const std::string before = AgentConfig().hash();
  Output narrowed = Ctl("config schema set contactless.limit --type decimal --max 400" + t);
  ASSERT_EQ(narrowed.code, 0) << narrowed.err;
  ASSERT_TRUE(testing::WaitFor([&] { return AgentConfig().hash() != before && InSync(terminal); }))
      << Slurp(dir_ + "/agent.log");
  EXPECT_EQ(AgentConfig().values().at("contactless.limit"), "45");
}

// The largest sets the server accepts go the whole way: through the broker (whose packet limit
// is above kMaxConfigSetBytes), into the agent, and out of its local API to the payment app.
TEST_F(ConfigE2eTest, ASetNearTheSizeLimitReachesThePaymentApp) {
  auto [tenant, terminal] = OnlineTerminal();
  // `count` string keys from text.k`first`, as a --file of specs; and KEY=VALUE words for them.
  auto specs = [&](int first, int count) {
    std::string json = "[";
    for (int i = first; i < first + count; ++i) {
      absl::StrAppend(&json, i > first ? "," : "", "{\"key\":\"text.k", i,
                      "\",\"type\":\"PARAM_TYPE_STRING\"}");
    }
    std::ofstream(dir_ + "/specs.json") << json << "]";
    return Ctl("config schema set --file " + dir_ + "/specs.json --tenant " + tenant);
  };
  auto values = [](int first, int count) {
    std::string words;
    for (int i = first; i < first + count; ++i) {
      absl::StrAppend(&words, " text.k", i, "=", std::string(1000, 'v'));
    }
    return words;
  };
  ASSERT_EQ(specs(0, 180).code, 0);
  // 160 values of 1,000 characters: about 178,000 bytes on the wire, in two commands (one shell
  // word may be at most 128 KiB).
  for (int first : {0, 80}) {
    Output set = Ctl("config set --terminal " + terminal + values(first, 80));
    ASSERT_EQ(set.code, 0) << set.err;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return InSync(terminal); })) << Slurp(dir_ + "/agent.log");
  const v1::GetConfigResponse c = AgentConfig();
  EXPECT_EQ(c.values().size(), 160u);
  EXPECT_EQ(c.values().at("text.k159"), std::string(1000, 'v'));
  // Twenty more would be too many: refused when written, and nothing changes.
  Output refused = Ctl("config set --terminal " + terminal + values(160, 20));
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.err.find("a terminal takes"), std::string::npos) << refused.err;
  EXPECT_EQ(AgentConfig().values().size(), 160u);
}

TEST_F(ConfigE2eTest, TheParameterKeyRotatesWithoutATerminalNoticing) {
  auto [tenant, terminal] = OnlineTerminal();
  const std::string t = " --tenant " + tenant;
  ASSERT_EQ(Ctl("config schema set host.password --type string --secret" + t).code, 0);
  ASSERT_EQ(Ctl("config schema set receipt.header --type string" + t).code, 0);
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " host.password=s3cr3t-Pw").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] {
    const v1::GetConfigResponse c = AgentConfig();
    return c.values().count("host.password") == 1;
  })) << Slurp(dir_ + "/agent.log");
  // A second terminal with a secret of its own: a preview must count only what really changes.
  const std::string other =
      JsonId(Ctl("-o json terminals create --merchant " +
                 JsonField(Ctl("-o json terminals get " + terminal).out, "merchantId") +
                 " --vendor PAX --model A920 --serial SN-OTHER")
                 .out);
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(Ctl("config set --terminal " + other + " host.password=0ther-Pw").code, 0);
  // Revision 3 holds the first secret, revision 4 both.
  const std::vector<std::string> before = StoredSealedValues();
  ASSERT_EQ(before.size(), 3u);
  auto desired = [&](const std::string& id) {
    return JsonField(Ctl("-o json config get " + id).out, "desiredHash");
  };
  const std::string hash_before = desired(terminal), other_before = desired(other);
  ASSERT_FALSE(hash_before.empty());
  // Setting a secret to the value it has changes no terminal.
  Output same = Ctl("config set --dry-run --terminal " + terminal + " host.password=s3cr3t-Pw");
  EXPECT_NE(same.out.find("changing 0 terminal(s)"), std::string::npos) << same.out;

  // The operator's procedure (docs/parameters.md): a new key; every replica restarted with it
  // current and the old one retired; then params-reseal; then the old key goes.
  std::ofstream(dir_ + "/params-new.key") << std::string(64, 'b') << "\n";
  RestartServerWithKeys("params-new.key", {"params.key"});
  Output wrong = Reseal("params-new.key", "");  // forgot the old key: refused, nothing changes
  EXPECT_EQ(wrong.code, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("does not open"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("s3cr3t"), std::string::npos) << wrong.err;
  EXPECT_EQ(StoredSealedValues(), before);

  const int64_t published = Metric(kPublished);
  Output reseal = Reseal("params-new.key", "params.key");
  ASSERT_EQ(reseal.code, 0) << reseal.out << reseal.err;
  EXPECT_NE(reseal.out.find("resealed 3 secret value(s) in 2 revision(s) of 1 tenant(s)"),
            std::string::npos)
      << reseal.out;
  Output again = Reseal("params-new.key", "params.key");
  EXPECT_NE(again.out.find("resealed 0 secret value(s)"), std::string::npos) << again.out;

  // What is stored opens with the new key alone, and no longer with the old one.
  absl::StatusOr<SecretBox> old_key = SecretBox::FromFile(dir_ + "/params.key");
  absl::StatusOr<SecretBox> new_key = SecretBox::FromFile(dir_ + "/params-new.key");
  ASSERT_TRUE(old_key.ok() && new_key.ok());
  for (const std::string& sealed : StoredSealedValues()) {
    const std::string plain = new_key->Open(sealed).value_or("");
    EXPECT_TRUE(plain == "s3cr3t-Pw" || plain == "0ther-Pw");
    EXPECT_FALSE(old_key->Open(sealed).ok());
  }
  EXPECT_NE(Ctl("audit list --limit 5").out.find("resealed 3 secret value(s)"), std::string::npos);
  // The hashes are of what the terminals receive, so resealing changed none of them: nothing is
  // published again, and a preview counts only the terminal it touches.
  EXPECT_EQ(desired(terminal), hash_before);
  EXPECT_EQ(desired(other), other_before);
  Output one = Ctl("config set --dry-run --terminal " + terminal + " receipt.header=Rotated");
  EXPECT_NE(one.out.find("changing 1 terminal(s)"), std::string::npos) << one.out;
  EXPECT_EQ(Metric(kPublished), published);

  // The old key is gone; the next change still carries the secret to the terminal.
  RestartServerWithKeys("params-new.key", {});
  ASSERT_EQ(Ctl("config set --terminal " + terminal + " receipt.header=Rotated").code, 0);
  ASSERT_TRUE(testing::WaitFor([&] {
    const v1::GetConfigResponse c = AgentConfig();
    return c.values().count("receipt.header") == 1 && c.values().at("receipt.header") == "Rotated";
  })) << Slurp(dir_ + "/agent.log");
  EXPECT_EQ(AgentConfig().values().at("host.password"), "s3cr3t-Pw");
  EXPECT_EQ(Metric("posfleet_config_publishes_total{result=\"unsealable\"}"), 0);
}

}  // namespace
}  // namespace posfleet::e2e

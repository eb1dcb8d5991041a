// The broker's access rule as a table. tests/deploy/mosquitto_acl_test.cc proves the same rule
// through a real broker with the plugin loaded.

#include "broker/access_rules.h"

#include <gtest/gtest.h>

namespace posfleet::broker {
namespace {

constexpr char kServer[] = "posfleet-server";

TEST(AccessRulesTest, IdentitiesComeFromTheCommonName) {
  EXPECT_EQ(Classify("trm_k3abcdefghijklmnopq", kServer).role, Role::kTerminal);
  EXPECT_EQ(Classify("posfleet-server", kServer).role, Role::kServer);
  for (const char* cn : {"broker", "", "trm_", "trm_A", "trm_a/b", "trm_+", "trm_#", "trm_a b",
                         "posfleet-server-1", "POSFLEET-SERVER", "$share"}) {
    EXPECT_EQ(Classify(cn, kServer).role, Role::kRefused) << cn;
  }
  EXPECT_EQ(Classify(std::string(70, 'a').insert(0, "trm_"), kServer).role, Role::kRefused);
}

TEST(AccessRulesTest, ClientIdsAreBoundToTheIdentity) {
  const Identity a = Classify("trm_a", kServer);
  const Identity server = Classify("posfleet-server", kServer);
  EXPECT_EQ(CheckClientId(a, "trm_a"), "");
  EXPECT_NE(CheckClientId(a, "trm_b"), "");
  EXPECT_NE(CheckClientId(a, "posfleet-server-0"), "");
  EXPECT_NE(CheckClientId(a, ""), "");
  EXPECT_EQ(CheckClientId(server, "posfleet-server"), "");
  EXPECT_EQ(CheckClientId(server, "posfleet-server_k3abc-0"), "");
  EXPECT_EQ(CheckClientId(server, "posfleet-server-7"), "");
  EXPECT_NE(CheckClientId(server, "trm_a"), "");
  EXPECT_NE(CheckClientId(server, "posfleet-serverX"), "");
  EXPECT_NE(CheckClientId(server, "posfleet-server-"), "");
  EXPECT_NE(CheckClientId(Classify("broker", kServer), "broker"), "");
}

struct Case {
  const char* who;
  Access access;
  const char* topic;
  bool allowed;
};

TEST(AccessRulesTest, TopicTable) {
  const Case cases[] = {
      // A terminal publishes its own uplinks, of the known kinds, and nothing else.
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/up/heartbeat", true},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/up/txn", true},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/up/update-status", true},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/up/other", false},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/up/txn/extra", false},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_b/up/heartbeat", false},
      {"trm_a", Access::kWrite, "posfleet/v1/t/trm_a/down/cmd", false},
      {"trm_a", Access::kWrite, "$CONTROL/posfleet/v1", false},
      {"trm_a", Access::kWrite, "elsewhere", false},
      // It reads and subscribes below its own downlinks only.
      {"trm_a", Access::kRead, "posfleet/v1/t/trm_a/down/config", true},
      {"trm_a", Access::kRead, "posfleet/v1/t/trm_b/down/config", false},
      {"trm_a", Access::kRead, "posfleet/v1/t/trm_a/up/txn", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/trm_a/down/#", true},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/trm_a/down/+", true},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/trm_a/down/ack", true},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/trm_a/down/", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/trm_a/#", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/+/down/#", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/t/+/up/+", false},
      {"trm_a", Access::kSubscribe, "#", false},
      {"trm_a", Access::kSubscribe, "+/v1/t/trm_a/down/#", false},
      {"trm_a", Access::kSubscribe, "$share/posfleet/posfleet/v1/t/+/up/+", false},
      {"trm_a", Access::kSubscribe, "$share/x/posfleet/v1/t/trm_a/down/#", false},
      {"trm_a", Access::kSubscribe, "$SYS/#", false},
      {"trm_a", Access::kUnsubscribe, "#", true},
      // The server's broadcast: read and subscribed to as that exact topic, never written.
      {"trm_a", Access::kSubscribe, "posfleet/v1/server/ready", true},
      {"trm_a", Access::kRead, "posfleet/v1/server/ready", true},
      {"trm_a", Access::kWrite, "posfleet/v1/server/ready", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/server/+", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/server/#", false},
      {"trm_a", Access::kSubscribe, "posfleet/v1/server/ready/#", false},
      // The server reads all uplinks, writes all downlinks and the control topic.
      {"posfleet-server", Access::kSubscribe, "$share/posfleet/posfleet/v1/t/+/up/+", true},
      {"posfleet-server", Access::kSubscribe, "posfleet/v1/t/+/up/#", true},
      {"posfleet-server", Access::kSubscribe, "#", false},
      {"posfleet-server", Access::kRead, "posfleet/v1/t/trm_a/up/txn", true},
      {"posfleet-server", Access::kRead, "posfleet/v1/t/trm_a/down/ack", false},
      {"posfleet-server", Access::kWrite, "posfleet/v1/t/trm_a/down/ack", true},
      {"posfleet-server", Access::kWrite, "posfleet/v1/t/trm_a/up/txn", false},
      {"posfleet-server", Access::kWrite, "$CONTROL/posfleet/v1", true},
      {"posfleet-server", Access::kWrite, "posfleet/v1/server/ready", true},
      {"posfleet-server", Access::kWrite, "posfleet/v1/server/other", false},
      {"posfleet-server", Access::kWrite, "$CONTROL/dynamic-security/v1", false},
      // Anything else may do nothing.
      {"broker", Access::kRead, "posfleet/v1/t/trm_a/up/txn", false},
      {"broker", Access::kSubscribe, "#", false},
      {"broker", Access::kWrite, "posfleet/v1/t/trm_a/down/ack", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Allowed(Classify(c.who, kServer), c.access, c.topic), c.allowed)
        << c.who << " " << static_cast<int>(c.access) << " " << c.topic;
  }
}

TEST(AccessRulesTest, TheLoadGeneratorExistsOnlyWhenConfigured) {
  EXPECT_EQ(Classify("posfleet-bench", kServer).role, Role::kRefused);
  const Identity gen = Classify("posfleet-bench", kServer, "posfleet-bench");
  ASSERT_EQ(gen.role, Role::kLoadGenerator);
  EXPECT_EQ(CheckClientId(gen, "posfleet-bench-hb-0"), "");
  EXPECT_NE(CheckClientId(gen, "trm_a"), "");
  EXPECT_TRUE(Allowed(gen, Access::kWrite, "posfleet/v1/t/trm_a/up/txn"));
  EXPECT_TRUE(Allowed(gen, Access::kSubscribe, "posfleet/v1/t/trm_a/down/ack"));
  EXPECT_TRUE(Allowed(gen, Access::kWrite, "posfleet-bench/raw/1"));
  // tools/bench/txn's raw step shares its own topics between two subscribers; a group name
  // like its own opens nothing else.
  EXPECT_TRUE(Allowed(gen, Access::kSubscribe, "$share/bench/posfleet-bench/raw/#"));
  EXPECT_FALSE(Allowed(gen, Access::kSubscribe, "$share/posfleet-bench/posfleet/v1/t/+/up/+"));
  EXPECT_FALSE(Allowed(gen, Access::kSubscribe, "$share/posfleet-bench"));
  EXPECT_FALSE(Allowed(gen, Access::kSubscribe, "posfleet/v1/t/trm_a/down/config"));
  EXPECT_FALSE(Allowed(gen, Access::kSubscribe, "$share/posfleet/posfleet/v1/t/+/up/+"));
  EXPECT_FALSE(Allowed(gen, Access::kWrite, "posfleet/v1/t/trm_a/down/ack"));
}

TEST(AccessRulesTest, OnlyATerminalsNewestCertificateConnects) {
  NewestCertificates c;
  std::string line;
  EXPECT_TRUE(c.Admit("trm_a", 100, &line));
  EXPECT_EQ(line, "trm_a 100\n");
  EXPECT_TRUE(c.Admit("trm_a", 100, &line));  // the same again: nothing to record
  EXPECT_EQ(line, "");
  EXPECT_TRUE(c.Admit("trm_a", 200, &line));  // renewed
  EXPECT_EQ(line, "trm_a 200\n");
  EXPECT_FALSE(c.Admit("trm_a", 100, &line));  // superseded
  EXPECT_TRUE(c.Admit("trm_b", 50, &line));    // each terminal on its own
  // The state file: appended lines, the latest value wins, garbage is skipped.
  NewestCertificates loaded;
  loaded.Load("trm_a 100\ntrm_a 200\ngarbage\nnot_a_terminal 5\ntrm_c x\ntrm_b 50");
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_FALSE(loaded.Admit("trm_a", 150, &line));
  EXPECT_TRUE(loaded.Admit("trm_b", 50, &line));
  NewestCertificates again;
  again.Load(loaded.Dump());
  EXPECT_FALSE(again.Admit("trm_a", 199, &line));
  EXPECT_TRUE(again.Admit("trm_a", 200, &line));
}

TEST(AccessRulesTest, ControlMessagesNameTerminals) {
  ControlCommand ok = ParseControl("disconnect trm_a\ndisconnect trm_b\n");
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.disconnect, (std::vector<std::string>{"trm_a", "trm_b"}));
  for (const char* bad : {"disconnect posfleet-server", "disconnect", "kick trm_a",
                          "disconnect trm_a\nshutdown", "disconnect trm_a extra"}) {
    ControlCommand c = ParseControl(bad);
    EXPECT_NE(c.error, "") << bad;
    EXPECT_TRUE(c.disconnect.empty()) << bad;
  }
  EXPECT_TRUE(ParseControl("").disconnect.empty());
}

}  // namespace
}  // namespace posfleet::broker

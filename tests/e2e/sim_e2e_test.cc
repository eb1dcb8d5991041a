// posfleet-sim end to end: the built simulator runs a few terminals against the built server and
// a private Mosquitto; a terminal killed through `posfleet-sim kill` goes offline in posfleetctl at
// once (its Will), a frozen one once the offline timeout passes, and both come back when revived.

#include <map>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/e2e/e2e_harness.h"

namespace posfleet::e2e {
namespace {

class SimE2eTest : public E2eLinkTest {
 protected:
  void TearDown() override {
    if (sim_ > 0) {
      EXPECT_TRUE(StopsCleanly(sim_))
          << "the simulator did not stop cleanly: " << Slurp(dir_ + "/sim.log");
    }
    E2eLinkTest::TearDown();
  }

  void StartSim(const std::string& tenant, int terminals, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BuildDir() + "/tools/sim/posfleet-sim",
                                     "--server",
                                     absl::StrCat("127.0.0.1:", port_),
                                     "--device-server",
                                     absl::StrCat("127.0.0.1:", device_port_),
                                     "--server-ca",
                                     CaFile(),
                                     "--token",
                                     token_,
                                     "--tenant",
                                     tenant,
                                     "--terminals",
                                     std::to_string(terminals),
                                     "--heartbeat-interval",
                                     "1",
                                     "--state-dir",
                                     dir_ + "/sim"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    sim_ = Spawn(argv, dir_ + "/sim.log", /*append=*/false);
    ASSERT_GE(sim_, 0);
  }

  // posfleet-sim VERB ARGS against the running simulator.
  Output Sim(const std::string& args) {
    return Capture(
        absl::StrCat(BuildDir(), "/tools/sim/posfleet-sim --state-dir ", dir_, "/sim ", args));
  }

  // The PRESENCE column of `posfleetctl terminals list` for a serial.
  std::string Presence(const std::string& serial) {
    for (const auto& line : absl::StrSplit(Ctl("terminals list -l sim --limit 0").out, '\n')) {
      if (absl::StrContains(line, serial + " ")) {
        if (absl::StrContains(line, " online ")) return "online";
        if (absl::StrContains(line, " offline")) return "offline";
        return "never";
      }
    }
    return "absent";
  }

  pid_t sim_ = -1;
};

TEST_F(SimE2eTest, KilledFrozenAndRevivedTerminalsAsPosfleetctlSeesThem) {
  const std::string tenant = JsonId(Ctl("-o json tenants create Simulated").out);
  StartSim(tenant, 4);
  ASSERT_TRUE(testing::WaitFor([&] {
    return Ctl("fleet summary --tenant " + tenant).out.find("online 4,") != std::string::npos;
  })) << Ctl("fleet summary --tenant " + tenant).out
      << Slurp(dir_ + "/sim.log");

  // Killed: the broker publishes the Will; offline well before the 5 s offline timeout could.
  Output killed = Sim("kill SIM-000002");
  ASSERT_EQ(killed.code, 0) << killed.err;
  EXPECT_NE(killed.out.find("killed"), std::string::npos) << killed.out;
  EXPECT_NE(killed.out.find("Last Will"), std::string::npos) << killed.out;
  EXPECT_TRUE(testing::WaitFor([&] { return Presence("SIM-000002") == "offline"; },
                               std::chrono::seconds(4)))
      << Ctl("terminals list -l sim").out;

  // Frozen: still connected, but silent: offline once the server's offline timeout (5 s) passes.
  ASSERT_EQ(Sim("freeze SIM-000003").code, 0);
  EXPECT_TRUE(testing::WaitFor([&] { return Presence("SIM-000003") == "offline"; }))
      << Ctl("terminals list -l sim").out;
  EXPECT_EQ(Presence("SIM-000001"), "online");
  Output list = Sim("list");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("SIM-000002  trm_"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("killed"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("frozen"), std::string::npos) << list.out;

  // Revived, both are back; the killed one in a new session.
  ASSERT_EQ(Sim("revive SIM-000002").code, 0);
  ASSERT_EQ(Sim("revive SIM-000003").code, 0);
  EXPECT_TRUE(testing::WaitFor([&] {
    return Presence("SIM-000002") == "online" && Presence("SIM-000003") == "online";
  })) << Ctl("terminals list -l sim").out;
  EXPECT_EQ(Slurp(dir_ + "/sim/SIM-000002/session"), "2\n");

  // Mistakes get a message and a non-zero exit, never a crash.
  Output unknown = Sim("kill SIM-999999");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("no simulated terminal SIM-999999"), std::string::npos) << unknown.err;
  EXPECT_EQ(testing::Run(absl::StrCat(BuildDir(),
                                      "/tools/sim/posfleet-sim --state-dir /nonexistent kill "
                                      "SIM-000001 2>/dev/null")),
            1);
}

// `posfleet-sim stats` as numbers: recorded=N committed=N backlog=N ...
std::map<std::string, double> ParseStats(const std::string& line) {
  std::map<std::string, double> out;
  for (absl::string_view kv : absl::StrSplit(absl::StripAsciiWhitespace(line), ' ')) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
    double v = 0;
    if (absl::SimpleAtod(p.second, &v)) out[p.first] = v;
  }
  return out;
}

TEST_F(SimE2eTest, TransactionStreamsReachPostgresqlExactlyOnce) {
  const std::string tenant = JsonId(Ctl("-o json tenants create Payments").out);
  // 4 terminals at 600 records a minute each: 40 records/s across the fleet.
  StartSim(tenant, 4, {"--txns-per-minute", "600", "--currency", "GBP"});
  std::map<std::string, double> stats;
  ASSERT_TRUE(testing::WaitFor([&] {
    stats = ParseStats(Sim("stats").out);
    return stats["committed"] >= 200;
  })) << Sim("stats").out
      << Slurp(dir_ + "/sim.log");
  EXPECT_GT(stats["latency_count"], 0);
  EXPECT_GT(stats["p99_ms"], 0);
  EXPECT_LE(stats["p50_ms"], stats["p99_ms"]);

  // Stop the streams and let the outboxes drain: then every recorded record is committed, once.
  Output stop = Sim("txn-rate 0");
  ASSERT_EQ(stop.code, 0) << stop.err;
  ASSERT_TRUE(testing::WaitFor([&] {
    stats = ParseStats(Sim("stats").out);
    return stats["backlog"] == 0 && stats["committed"] == stats["recorded"];
  })) << Sim("stats").out;
  EXPECT_EQ(stats["refused"], 0);
  pqxx::connection conn(db_url_);
  pqxx::row r = pqxx::nontransaction(conn).exec_params1(
      "SELECT count(*), count(DISTINCT (terminal_id, txn_id)), count(*) FILTER (WHERE currency "
      "= 'GBP'), count(DISTINCT type), count(DISTINCT result), bool_and(masked_pan ~ "
      "'^[0-9]{6}[*]{5,9}[0-9]{4}$') FROM transactions WHERE tenant_id = $1",
      tenant);
  EXPECT_EQ(r[0].as<int64_t>(), static_cast<int64_t>(stats["recorded"]));
  EXPECT_EQ(r[1].as<int64_t>(), r[0].as<int64_t>()) << "duplicates stored";
  EXPECT_EQ(r[2].as<int64_t>(), r[0].as<int64_t>());
  EXPECT_GE(r[3].as<int>(), 2) << "only one transaction type generated";
  EXPECT_GE(r[4].as<int>(), 2) << "only one result generated";
  EXPECT_TRUE(r[5].as<bool>()) << "a masked PAN is not first six, stars, last four";

  // The running simulator refuses a bad rate with a message.
  Output bad = Sim("txn-rate -5");
  EXPECT_NE(bad.code, 0);
  EXPECT_FALSE(bad.err.empty());
}

}  // namespace
}  // namespace posfleet::e2e

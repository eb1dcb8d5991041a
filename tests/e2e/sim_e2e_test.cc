// posfleet-sim end to end: the built simulator runs a few terminals against the built server and
// a private Mosquitto; a terminal killed through `posfleet-sim kill` goes offline in posfleetctl at
// once (its Will), a frozen one once the offline timeout passes, and both come back when revived.

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

  void StartSim(const std::string& tenant, int terminals) {
    sim_ = Spawn(
        {BuildDir() + "/tools/sim/posfleet-sim", "--server", absl::StrCat("127.0.0.1:", port_),
         "--token", token_, "--tenant", tenant, "--terminals", std::to_string(terminals),
         "--heartbeat-interval", "1", "--state-dir", dir_ + "/sim"},
        dir_ + "/sim.log", /*append=*/false);
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

}  // namespace
}  // namespace posfleet::e2e

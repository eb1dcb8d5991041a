#pragma once

// End-to-end fixtures: the built posfleet-server binary (its own process, real PostgreSQL) driven
// by the built binaries (posfleetctl, posfleet-agent, posfleet-sim), the way people use them.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/random.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet::e2e {

using testing::BuildDir;
using testing::TestPostgres;

struct Output {
  int code = -1;
  std::string out, err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts args[0] with `args` in a process of its own, its stdout and stderr going to `log`
// (appended to, or started afresh), with `env` (name, value pairs) added to the environment.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log, bool append,
                   const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  freopen(log.c_str(), append ? "a" : "w", stdout);
  freopen(log.c_str(), "a", stderr);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

// Sends SIGTERM and waits; true if the process then exited with status 0.
inline bool StopsCleanly(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/posfleet-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    token_ = NewSecret("pft");
    port_ = testing::FreePort();
    device_port_ = testing::FreePort();
    metrics_port_ = testing::FreePort();
    StartServer();
  }

  // Extra server flags and the matching posfleetctl flags (TLS tests override them).
  virtual std::vector<std::string> ServerFlags() { return {}; }
  virtual std::string CtlFlags() { return ""; }
  // Runs before the server starts, with its database URL (the link tests start a broker here).
  virtual void BeforeServer(const std::string& url) { (void)url; }

  // Starts the server on a new database, or with `same_database`, on the one it had (a restart).
  void StartServer(bool same_database = false) {
    if (!same_database) {
      db_url_ = TestPostgres::Get().CreateDatabase();
      BeforeServer(db_url_);
    }
    const std::string& url = db_url_;
    std::vector<std::string> args = {BuildDir() + "/server/main/posfleet-server",
                                     "--db-url",
                                     testing::RuntimeUrl(url),
                                     "--owner-db-url",
                                     url,
                                     "--listen",
                                     absl::StrCat("127.0.0.1:", port_),
                                     "--device-listen",
                                     absl::StrCat("127.0.0.1:", device_port_),
                                     "--metrics-listen",
                                     absl::StrCat("127.0.0.1:", metrics_port_),
                                     "--code-key-file",
                                     dir_ + "/code.key"};
    // The same key across restarts, or outstanding activation codes would stop working.
    if (!same_database) std::ofstream(dir_ + "/code.key") << std::string(64, 'c') << "\n";
    for (const std::string& flag : ServerFlags()) args.push_back(flag);
    server_ = Spawn(args, dir_ + "/server.log", /*append=*/same_database,
                    {{"POSFLEET_BOOTSTRAP_TOKEN", token_}});
    ASSERT_GE(server_, 0);
    ASSERT_TRUE(testing::WaitFor([&] { return Ctl("tokens whoami").code == 0; }))
        << Slurp(dir_ + "/server.log");
  }

  void TearDown() override {
    if (server_ > 0) {
      EXPECT_TRUE(StopsCleanly(server_))
          << "server did not stop cleanly: " << Slurp(dir_ + "/server.log");
    }
    // POSFLEET_KEEP_E2E=1 keeps the server and agent logs for a look after the run.
    if (getenv("POSFLEET_KEEP_E2E") == nullptr) testing::Run("rm -rf " + dir_);
  }

  // Runs posfleetctl with `args` (shell words) against the server, as the bootstrap admin unless
  // `token` is given.
  Output Ctl(const std::string& args, const std::string& token = "") {
    return Capture(absl::StrCat("POSFLEET_SERVER=127.0.0.1:", port_,
                                " POSFLEET_TOKEN=", token.empty() ? token_ : token, " ", BuildDir(),
                                "/tools/posfleetctl/posfleetctl ", CtlFlags(), " ", args));
  }

  // Runs a shell command and returns its exit code, stdout and stderr.
  Output Capture(const std::string& command) {
    const std::string out = dir_ + "/out", err = dir_ + "/err";
    Output o;
    o.code = testing::Run(absl::StrCat(command, " >", out, " 2>", err));
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }

  // The first string value of `field` in JSON printed by --output json ("" when absent).
  static std::string JsonField(const std::string& json, const std::string& field) {
    const std::string key = "\"" + field + "\": \"";
    const size_t at = json.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    return json.substr(start, json.find('"', start) - start);
  }
  static std::string JsonId(const std::string& json) { return JsonField(json, "id"); }

  // The value of one series of the server's /metrics: 0 when absent, -1 when unreachable.
  int64_t Metric(const std::string& series) {
    httplib::Client http("127.0.0.1", metrics_port_);
    auto res = http.Get("/metrics");
    if (!res) return -1;
    // At the start of a line: "# TYPE {name} counter" also contains an unlabelled series' name.
    const std::string line = "\n" + series + " ";
    const size_t at = res->body.find(line);
    if (at == std::string::npos) return 0;
    return std::atoll(res->body.c_str() + at + line.size());
  }

  std::string dir_, token_, db_url_;
  int port_ = 0;         // the operators' API (posfleetctl)
  int device_port_ = 0;  // the terminals' listener (enrollment)
  int metrics_port_ = 0;
  pid_t server_ = -1;
};

// The terminal link end to end: the server with its link ingest, a private Mosquitto whose
// certificates come from `posfleet-server broker-certs`, and the posfleet-agent binary enrolled
// with a code a technician issued through posfleetctl.
class E2eLinkTest : public E2eTest {
 protected:
  void BeforeServer(const std::string& url) override {
    broker_dir_ = dir_ + "/broker";
    mqtt_port_ = testing::FreePort();
    ASSERT_EQ(testing::Run("mkdir -p " + broker_dir_ + "/certs && " + BuildDir() +
                           "/server/main/posfleet-server --db-url '" + url +
                           "' broker-certs --out " + broker_dir_ + "/certs >/dev/null 2>&1"),
              0);
    ASSERT_EQ(testing::Run(absl::StrCat(testing::SourceDir(), "/tools/lib/mosquitto-local start ",
                                        broker_dir_, " ", mqtt_port_, " ", BuildDir(),
                                        "/broker/posfleet_mosquitto.so")),
              0);
  }
  std::vector<std::string> ServerFlags() override {
    const std::string certs = broker_dir_ + "/certs";
    return {"--broker-address", absl::StrCat("ssl://127.0.0.1:", mqtt_port_), "--mqtt-url",
            absl::StrCat("ssl://127.0.0.1:", mqtt_port_), "--mqtt-ca", certs + "/ca.pem",
            "--mqtt-cert", certs + "/posfleet-server.pem", "--mqtt-key",
            certs + "/posfleet-server.key", "--crl-file", certs + "/crl.pem", "--broker-pid-file",
            broker_dir_ + "/mosquitto.pid", "--offline-timeout", "5", "--health-history-every", "0",
            // The API over TLS, as in production: agents authenticate the server they enroll
            // with (its certificate chains to the fleet CA they are given).
            "--tls-cert", certs + "/api.pem", "--tls-key", certs + "/api.key"};
  }
  std::string CtlFlags() override { return "--tls-ca " + broker_dir_ + "/certs/ca.pem"; }
  // The fleet CA, which the API's certificate chains to.
  std::string CaFile() const { return broker_dir_ + "/certs/ca.pem"; }
  void TearDown() override {
    for (pid_t pid : agents_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    testing::Run(
        absl::StrCat(testing::SourceDir(), "/tools/lib/mosquitto-local stop ", broker_dir_));
    E2eTest::TearDown();
  }

  // Creates tenant, merchant and terminal `serial` and issues its activation code; returns the
  // terminal id and the code.
  std::pair<std::string, std::string> ProvisionTerminal(const std::string& serial) {
    const std::string tenant = JsonId(Ctl("-o json tenants create Acme").out);
    const std::string merchant =
        JsonId(Ctl("-o json merchants create --tenant " + tenant + " --name Shop --mid M1").out);
    const std::string terminal = JsonId(Ctl("-o json terminals create --merchant " + merchant +
                                            " --vendor PAX --model A920 --serial " + serial)
                                            .out);
    Output code = Ctl("-o json terminals activation-code " + terminal);
    const size_t at = code.out.find("\"code\": \"") + 9;
    return {terminal, code.out.substr(at, code.out.find('"', at) - at)};
  }

  void RestartBroker() {
    const std::string lib = testing::SourceDir() + "/tools/lib/mosquitto-local ";
    ASSERT_EQ(testing::Run(lib + "stop " + broker_dir_), 0);
    ASSERT_EQ(testing::Run(absl::StrCat(lib, "start ", broker_dir_, " ", mqtt_port_)), 0);
  }

  // The agent's log is appended to across restarts.
  pid_t StartAgent(const std::string& code) {
    std::vector<std::string> args = {BuildDir() + "/agent/main/posfleet-agent",
                                     "--state-dir",
                                     dir_ + "/agent-state",
                                     "--server",
                                     absl::StrCat("127.0.0.1:", device_port_),
                                     "--vendor",
                                     "PAX",
                                     "--serial",
                                     "SN-E2E",
                                     "--heartbeat-interval",
                                     "1"};
    args.push_back("--server-ca");
    args.push_back(CaFile());
    for (const std::string& flag : agent_flags_) args.push_back(flag);
    if (!code.empty()) {
      // From a file, as a technician's provisioning would hand it over: never on the command
      // line, which every local user can read.
      const std::string file = dir_ + "/activation-code";
      std::ofstream(file) << code << "\n";
      args.push_back("--activation-code-file");
      args.push_back(file);
    }
    const pid_t pid = Spawn(args, dir_ + "/agent.log", /*append=*/true);
    agents_.push_back(pid);
    return pid;
  }

  std::string broker_dir_;
  int mqtt_port_ = 0;
  std::vector<pid_t> agents_;
  std::vector<std::string> agent_flags_;  // extra flags for StartAgent
};

}  // namespace posfleet::e2e

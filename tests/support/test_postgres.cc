#include "tests/support/test_postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace posfleet::testing {

std::string SourceDir() { return POSFLEET_SOURCE_DIR; }
std::string BuildDir() { return POSFLEET_BUILD_DIR; }

int Run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

namespace {

// True if nothing holds `port` on 127.0.0.1 (no SO_REUSEADDR, so a TIME_WAIT counts as taken).
bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  // Below the kernel's ephemeral range: a port the kernel handed out (bind to 0) can be taken by
  // any outgoing connection between our release and the server's bind, and the tests open
  // thousands of them.
  int low = 10000, high = 32000;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) {
    int eph = 0;
    if (range >> eph && eph - 1 > low) high = eph - 1;
  }
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(low, high);
  static std::set<int> given;  // never the same port twice in one process
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  for (int i = 0; i < 1000; ++i) {
    const int port = pick(rng);
    if (given.count(port) == 0 && CanBind(port)) {
      given.insert(port);
      return port;
    }
  }
  std::cerr << "FreePort: no free port in " << low << "-" << high << "\n";
  std::abort();
}

TestPostgres& TestPostgres::Get() {
  static TestPostgres* instance = new TestPostgres();
  static const bool registered = [] {
    std::atexit([] { delete instance; });
    return true;
  }();
  (void)registered;
  return *instance;
}

TestPostgres::TestPostgres() {
  char tmpl[] = "/tmp/posfleet-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  dir_ = tmpl;
  port_ = FreePort();
  Start();
}

TestPostgres::~TestPostgres() {
  Stop(/*crash=*/false);
  Run(absl::StrCat("rm -rf ", dir_));
}

void TestPostgres::Start() {
  const std::string cmd =
      absl::StrCat("PG_LOCAL_FAST=1 ", SourceDir(), "/tools/lib/pg-local start ", dir_, " ", port_,
                   " >/dev/null");
  if (Run(cmd) != 0) {
    std::cerr << "test support: could not start PostgreSQL: " << cmd << "\n";
    std::abort();
  }
}

void TestPostgres::Stop(bool crash) {
  Run(absl::StrCat(SourceDir(), "/tools/lib/pg-local stop ", dir_, crash ? " immediate" : " fast"));
}

std::string TestPostgres::Url(const std::string& database) const {
  return absl::StrCat("postgresql://posfleet@127.0.0.1:", port_, "/", database,
                      "?connect_timeout=5");
}

std::string TestPostgres::CreateDatabase() {
  const std::string name = absl::StrCat("t", getpid(), "_", ++databases_);
  pqxx::connection conn(Url("postgres"));
  pqxx::nontransaction(conn).exec("CREATE DATABASE " + name + " OWNER posfleet_owner");
  return absl::StrCat("postgresql://posfleet_owner@127.0.0.1:", port_, "/", name,
                      "?connect_timeout=5");
}

std::string RuntimeUrl(const std::string& owner_url) {
  return absl::StrReplaceAll(owner_url, {{"//posfleet_owner@", "//posfleet_app@"}});
}

}  // namespace posfleet::testing

#include "tests/support/test_postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace posfleet::testing {

std::string SourceDir() { return POSFLEET_SOURCE_DIR; }
std::string BuildDir() { return POSFLEET_BUILD_DIR; }

int Run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) std::abort();
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
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
  pqxx::nontransaction(conn).exec("CREATE DATABASE " + name);
  return Url(name);
}

}  // namespace posfleet::testing

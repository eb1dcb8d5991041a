#pragma once

#include <string>

namespace posfleet::testing {

// A free TCP port on 127.0.0.1, below the ephemeral range (checked by binding it; good enough
// for tests on one machine).
int FreePort();

// A private PostgreSQL cluster for one test binary, in a temp dir on a free port, started through
// tools/lib/pg-local (the same script tools/demo uses; as root it runs the cluster as the
// "postgres" user). Removed when the binary exits.
class TestPostgres {
 public:
  // The binary's cluster, started on first use. Aborts the test binary if it cannot start.
  static TestPostgres& Get();

  // A new, empty database owned by posfleet_owner; returns the owner's libpq URL (for
  // migrations). RuntimeUrl gives the same database as the server's runtime role.
  std::string CreateDatabase();

  // Stops the cluster: `crash` uses immediate mode (no shutdown checkpoint, like kill -9).
  void Stop(bool crash);
  // Starts it again on the same port and data.
  void Start();

  int port() const { return port_; }
  std::string Url(const std::string& database) const;

  ~TestPostgres();

 private:
  TestPostgres();
  std::string dir_;
  int port_ = 0;
  int databases_ = 0;
};

// `owner_url` (from CreateDatabase) as the runtime role posfleet_app, which may read and write
// data but not alter the schema or the audit log (migrations/000010_runtime_role.up.sql).
std::string RuntimeUrl(const std::string& owner_url);

// Runs a shell command; returns its exit code. Output goes to stderr of the test.
int Run(const std::string& command);

// Directory of the source tree and of the build tree (compiled in).
std::string SourceDir();
std::string BuildDir();

}  // namespace posfleet::testing

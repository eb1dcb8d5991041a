#pragma once

// posfleet-server's flags: every subcommand's, declared once, checked once after parsing.

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace posfleet::server {

struct Flags {
  std::string db_url;
  std::string owner_db_url;  // the schema owner, for migrations; empty: db_url
  std::string listen = "127.0.0.1:7443";
  std::string device_listen = "127.0.0.1:7444";
  int api_memory_mib = 256;
  int device_memory_mib = 32;
  std::string metrics_listen = "127.0.0.1:9464";
  std::string tls_cert;
  std::string tls_key;
  std::string log_level = "info";
  std::string bootstrap_token_file;
  std::string broker_address = "ssl://127.0.0.1:8883";
  std::string ca_cert;
  std::string ca_key;
  int cert_validity_days = 90;
  std::string crl_file;
  std::string mqtt_url;
  std::string mqtt_ca;
  std::string mqtt_cert;
  std::string mqtt_key;
  int offline_timeout_seconds = 90;
  int enroll_parallel_per_source = 16;
  int history_every_seconds = 300;
  int history_days = 30;
  int txn_retention_months = 13;
  int txn_batch_max = 2000;
  int txn_writers = 2;
  int txn_pending_max = 50000;
  int link_connections = 2;
  std::string broker_pid_file;
  std::string params_key_file;
  std::string code_key_file;
  std::vector<std::string> params_retired_key_files;
  int config_refresh_seconds = 15;
  std::string certs_out;
  std::vector<std::string> broker_sans = {"127.0.0.1", "localhost"};
  int db_pool_size = 8;
  double db_statement_timeout_seconds = 15;
  double limit_token_rate = 50;
  double limit_tenant_rate = 200;
  int limit_streams_per_token = 8;
  int limit_streams_per_tenant = 32;
  int limit_calls_per_tenant = -1;  // half the pool
  int db_wait_seconds = 60;
  int down_to = -1;             // migrate --down-to
  bool migrate_status = false;  // migrate --status
};

// The subcommands AddFlags declares; `serve` is also what runs without one.
struct Subcommands {
  CLI::App* serve = nullptr;
  CLI::App* migrate = nullptr;
  CLI::App* broker_certs = nullptr;
  CLI::App* params_reseal = nullptr;
};

// Declares every flag of `app` and its subcommands, bound to `flags`.
Subcommands AddFlags(CLI::App& app, Flags& flags);

// The rules between flags that CLI11 cannot state (pairs that go together); an empty string if
// they hold, otherwise what is wrong.
std::string CheckFlags(const Flags& flags);

}  // namespace posfleet::server

#pragma once

// Domain types of posfleet. Plain structs: no protobuf, no SQL, no I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace posfleet::core {

// kTerminal is a terminal acting for itself (enrollment): it appears in audit entries and may
// call no API method; no token can have it.
enum class Role { kAdmin, kOperator, kTechnician, kViewer, kTerminal };
absl::string_view RoleName(Role role);  // "admin", "operator", ...
std::optional<Role> ParseRole(absl::string_view name);

enum class TerminalState { kProvisioned, kActive, kSuspended, kRetired };
absl::string_view StateName(TerminalState state);  // "provisioned", ...
std::optional<TerminalState> ParseState(absl::string_view name);

using Labels = std::map<std::string, std::string>;

struct Tenant {
  std::string id;
  std::string name;
  absl::Time create_time;
  absl::Time update_time;
};

struct Merchant {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string mid;
  std::string country;  // ISO 3166-1 alpha-2 or empty
  absl::Time create_time;
  absl::Time update_time;
};

// What a caller supplies to provision a terminal.
struct TerminalSpec {
  std::string merchant_id;
  std::string vendor;
  std::string model;
  std::string serial;
  std::string tid;
  Labels labels;
};

// The latest health a terminal reported (see link.proto Heartbeat).
struct Health {
  int battery_percent = -1;  // -1: no battery
  bool charging = false;
  int temperature_c = 0;
  std::string paper;  // "ok", "low", "out", "none", or "" when unknown
  int signal_dbm = 0;
  std::string network;
  int64_t storage_free_bytes = 0;
  int64_t uptime_seconds = 0;
  std::map<std::string, std::string> versions;
};

// One sampled heartbeat in a terminal's health history.
struct HealthSample {
  absl::Time time;  // when the server recorded it
  int64_t session = 0;
  Health health;
};

// Presence as the link last saw it; absent until the terminal first connects.
struct Presence {
  bool online = false;
  int64_t session = 0;
  absl::Time last_seen;
  absl::Time change_time;
  std::string agent_version;
  std::optional<Health> health;  // absent until the first heartbeat
};

struct Terminal {
  std::string id;
  std::string tenant_id;
  std::string merchant_id;
  std::string vendor;
  std::string model;
  std::string serial;
  std::string tid;
  Labels labels;
  TerminalState state = TerminalState::kProvisioned;
  std::optional<absl::Time> enroll_time;  // set once the terminal has enrolled
  std::optional<Presence> presence;
  absl::Time create_time;
  absl::Time update_time;
};

// Counts over the terminals a filter matches (TerminalService.SummarizeFleet).
struct SoftwareCount {
  std::string component;
  std::string version;
  int64_t terminals = 0;
};

struct FleetSummary {
  int64_t terminals = 0;
  std::map<std::string, int64_t> by_state;  // state name -> count
  int64_t online = 0;
  int64_t offline = 0;
  int64_t never_seen = 0;
  std::map<std::string, int64_t> by_model;  // "vendor model" -> count
  std::vector<SoftwareCount> software;      // by component, then version
  int64_t battery_low = 0;
  int64_t paper_low = 0;
  int64_t paper_out = 0;
};

// Below this battery percentage a terminal counts as low in the fleet summary.
inline constexpr int kLowBatteryPercent = 20;

struct Token {
  std::string id;
  std::string name;
  Role role = Role::kViewer;
  std::string tenant_id;  // empty: global (admins only)
  std::string created_by;
  absl::Time create_time;
  std::optional<absl::Time> revoke_time;
};

// The authenticated caller of an API method.
struct Actor {
  std::string token_id;
  std::string name;
  Role role = Role::kViewer;
  std::string tenant_id;  // empty: global
  bool global() const { return tenant_id.empty(); }
};

// Which tenants' rows a store call may touch. An empty tenant_id means every tenant.
struct Scope {
  std::string tenant_id;
  bool all() const { return tenant_id.empty(); }
};

struct AuditEntry {
  int64_t id = 0;
  absl::Time time;  // set by the database
  std::string actor_id;
  std::string actor_name;
  Role role = Role::kViewer;
  std::string tenant_id;
  std::string method;
  std::string target_type;
  std::string target_id;
  std::string summary;
  std::string result = "OK";
};

// A page of rows in a stable order, and the token that continues after it.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

}  // namespace posfleet::core

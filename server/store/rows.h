#pragma once

// Conversions between result rows and core structs, and the audit insert every change shares.
// Column lists are defined next to the converters so a SELECT and its reader cannot drift apart.

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <unordered_set>

#include "absl/time/time.h"
#include "server/core/store.h"
#include "server/core/types.h"
#include "server/store/pg_pool.h"

namespace posfleet::store {

// Timestamps travel as microseconds since the epoch.
#define POSFLEET_US(col) "(extract(epoch from " col ") * 1000000)::int8"
// The labels a selector sees for terminal t: its own, over "vendor" and "model" from its fields
// (a label of that name wins). core::SelectorLabels is the same in C++.
#define POSFLEET_SELECTOR_LABELS \
  "(jsonb_build_object('vendor', t.vendor, 'model', t.model) || t.labels)"

inline constexpr char kTenantColumns[] =
    "id, name, " POSFLEET_US("create_time") ", " POSFLEET_US("update_time") ", seq";
inline constexpr char kMerchantColumns[] = "id, tenant_id, name, mid, country, " POSFLEET_US(
    "create_time") ", " POSFLEET_US("update_time") ", seq";
#define POSFLEET_TERMINAL_BASE                                                                 \
  "id, tenant_id, merchant_id, vendor, model, serial, tid, labels::text, state, " POSFLEET_US( \
      "enroll_time") ", " POSFLEET_US("create_time") ", " POSFLEET_US("update_time")
inline constexpr char kTerminalColumns[] = POSFLEET_TERMINAL_BASE ", seq";
// The same with the terminal's presence, for queries that LEFT JOIN terminal_status s.
inline constexpr char kTerminalPresenceColumns[] =
    POSFLEET_TERMINAL_BASE ", s.online, s.session, " POSFLEET_US("s.last_seen") ", " POSFLEET_US(
        "s.change_time") ", s.agent_version, s.battery_percent, s.charging, s.temperature_c, "
                         "s.paper, s.signal_dbm, s.network, s.storage_free_bytes, "
                         "s.uptime_seconds, s.versions::text, seq";
inline constexpr char kTokenColumns[] =
    "id, name, role, coalesce(tenant_id, ''), created_by, " POSFLEET_US(
        "create_time") ", " POSFLEET_US("revoke_time") ", seq";
inline constexpr char kAuditColumns[] =
    "id, " POSFLEET_US("time") ", actor_id, actor_name, role, tenant_id, method, target_type, "
                               "target_id, summary, result";

core::Tenant TenantFromRow(const pqxx::row& row);
core::Merchant MerchantFromRow(const pqxx::row& row);
core::Terminal TerminalFromRow(const pqxx::row& row);
core::Token TokenFromRow(const pqxx::row& row);
core::AuditEntry AuditFromRow(const pqxx::row& row);

// The `seq` column, last in each column list but the audit one.
int64_t SeqOf(const pqxx::row& row);

std::string LabelsToJson(const core::Labels& labels);
core::Labels LabelsFromJson(const char* json);
// Health from nine columns starting at `first`: battery_percent, charging, temperature_c, paper,
// signal_dbm, network, storage_free_bytes, uptime_seconds, versions::text.
core::Health HealthFromRow(const pqxx::row& r, int first);

// A PostgreSQL text[] literal of `values` (every element quoted and escaped), for set-based
// statements over unnest($n::text[]); libpqxx 6 has no array parameters.
std::string PgTextArray(const std::vector<std::string>& values);

// Appends `entry` within `txn`.
void InsertAudit(pqxx::transaction_base& txn, const core::AuditEntry& entry);

// Of the terminals `ids` (uplinks just received), returns those that exist but are not active,
// and audits the refusal of each one once per state (the first refusal since it left active;
// migrations/000008_link_access.up.sql clears the mark when it is active again).
std::unordered_set<std::string> RecordRefusedUplinks(pqxx::transaction_base& txn,
                                                     const std::vector<std::string>& ids);

// Fills a Slice from rows fetched with LIMIT window.limit + 1.
template <typename T, typename Convert>
core::Slice<T> SliceFrom(const pqxx::result& result, int limit, Convert convert,
                         int64_t (*position)(const pqxx::row&) = &SeqOf) {
  core::Slice<T> slice;
  for (const pqxx::row& row : result) {
    if (static_cast<int>(slice.items.size()) == limit) {
      slice.more = true;
      break;
    }
    slice.items.push_back(convert(row));
    slice.last = position(row);
  }
  return slice;
}

}  // namespace posfleet::store

namespace posfleet::store {

// Runs `body(txn)` (returning absl::StatusOr<T>) in one transaction of `pool`; commits on OK.
// With `read_only`, `body` must be a single reading statement and runs in autocommit mode.
template <typename T, typename Body>
absl::StatusOr<T> TransactFor(PgPool& pool, Body&& body, bool read_only = false) {
  std::optional<T> out;
  auto run = read_only ? &PgPool::Read : &PgPool::Transact;
  absl::Status status = (pool.*run)([&](pqxx::transaction_base& txn) -> absl::Status {
    absl::StatusOr<T> result = body(txn);
    if (!result.ok()) return result.status();
    out = *std::move(result);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return *std::move(out);
}

// TransactFor for a single reading statement.
template <typename T, typename Body>
absl::StatusOr<T> ReadFor(PgPool& pool, Body&& body) {
  return TransactFor<T>(pool, std::forward<Body>(body), /*read_only=*/true);
}

}  // namespace posfleet::store

// Presence and health from the terminal link, in batches.

#include <map>

#include "absl/strings/str_cat.h"
#include "server/store/pg_change_feed.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

// Arrays go in as text[] and are cast in SQL; unknown terminals fall out at the JOIN.
constexpr char kApplyHeartbeats[] =
    "INSERT INTO terminal_status AS s (terminal_id, online, session, last_seen, change_time, "
    "battery_percent, charging, temperature_c, paper, signal_dbm, network, storage_free_bytes, "
    "uptime_seconds, versions) "
    "SELECT x.id, true, x.session, now(), now(), x.battery, x.charging, x.temperature, x.paper, "
    "x.signal, x.network, x.storage, x.uptime, x.versions::jsonb "
    "FROM unnest($1::text[], $2::text[]::int8[], $3::text[]::int[], $4::text[]::bool[], "
    "$5::text[]::int[], $6::text[], $7::text[]::int[], $8::text[], $9::text[]::int8[], "
    "$10::text[]::int8[], $11::text[]) AS x(id, session, battery, charging, temperature, paper, "
    "signal, network, storage, uptime, versions) JOIN terminals t ON t.id = x.id "
    "ON CONFLICT (terminal_id) DO UPDATE SET online = true, session = excluded.session, "
    "last_seen = now(), change_time = CASE WHEN s.online THEN s.change_time ELSE now() END, "
    "battery_percent = excluded.battery_percent, charging = excluded.charging, "
    "temperature_c = excluded.temperature_c, paper = excluded.paper, "
    "signal_dbm = excluded.signal_dbm, network = excluded.network, "
    "storage_free_bytes = excluded.storage_free_bytes, uptime_seconds = excluded.uptime_seconds, "
    "versions = excluded.versions WHERE excluded.session >= s.session RETURNING s.terminal_id";
constexpr char kApplyStatuses[] =
    "INSERT INTO terminal_status AS s (terminal_id, online, session, last_seen, change_time, "
    "agent_version) "
    "SELECT x.id, x.online, x.session, now(), now(), x.agent_version "
    "FROM unnest($1::text[], $2::text[]::bool[], $3::text[]::int8[], $4::text[]) "
    "AS x(id, online, session, agent_version) JOIN terminals t ON t.id = x.id "
    "ON CONFLICT (terminal_id) DO UPDATE SET online = excluded.online, "
    "session = excluded.session, "
    "last_seen = CASE WHEN excluded.online THEN now() ELSE s.last_seen END, "
    "change_time = CASE WHEN s.online <> excluded.online THEN now() ELSE s.change_time END, "
    "agent_version = CASE WHEN excluded.agent_version <> '' THEN excluded.agent_version "
    "ELSE s.agent_version END "
    "WHERE excluded.session >= s.session RETURNING s.terminal_id";
constexpr char kMarkSilentOffline[] =
    "UPDATE terminal_status SET online = false, change_time = now() "
    "WHERE online AND last_seen < now() - $1::int8 * interval '1 millisecond' "
    "RETURNING terminal_id";

// Tells every PgChangeFeed which terminals changed, delivered when (and only if) the transaction
// commits. A payload must stay under 8000 bytes, so ids go in chunks.
void NotifyChanged(pqxx::transaction_base& txn, const pqxx::result& changed) {
  std::string chunk;
  auto send = [&] {
    if (!chunk.empty()) txn.exec_params("SELECT pg_notify($1, $2)", kTerminalChangesChannel, chunk);
    chunk.clear();
  };
  for (const pqxx::row& row : changed) {
    const pqxx::field id = row[0];
    if (chunk.size() + id.size() + 1 > 7000) send();
    if (!chunk.empty()) chunk += ',';
    chunk += id.c_str();
  }
  send();
}

// One report per terminal: the newest session, the last one on a tie (ON CONFLICT may touch a
// row only once per statement).
template <typename Report>
std::vector<const Report*> NewestPerTerminal(const std::vector<Report>& reports) {
  std::map<std::string, const Report*> newest;
  for (const Report& r : reports) {
    auto [it, inserted] = newest.emplace(r.terminal_id, &r);
    if (!inserted && r.session >= it->second->session) it->second = &r;
  }
  std::vector<const Report*> out;
  for (const auto& [id, r] : newest) out.push_back(r);
  return out;
}

std::string VersionsJson(const std::map<std::string, std::string>& versions) {
  return LabelsToJson(versions);
}

}  // namespace

absl::Status PgStore::ApplyLinkReports(const std::vector<core::StatusReport>& statuses,
                                       const std::vector<core::HealthReport>& heartbeats) {
  if (statuses.empty() && heartbeats.empty()) return absl::OkStatus();
  std::vector<std::string> h_id, h_session, h_battery, h_charging, h_temp, h_paper, h_signal,
      h_network, h_storage, h_uptime, h_versions;
  for (const core::HealthReport* r : NewestPerTerminal(heartbeats)) {
    const core::Health& h = r->health;
    h_id.push_back(r->terminal_id);
    h_session.push_back(absl::StrCat(r->session));
    h_battery.push_back(absl::StrCat(h.battery_percent));
    h_charging.push_back(h.charging ? "t" : "f");
    h_temp.push_back(absl::StrCat(h.temperature_c));
    h_paper.push_back(h.paper);
    h_signal.push_back(absl::StrCat(h.signal_dbm));
    h_network.push_back(h.network);
    h_storage.push_back(absl::StrCat(h.storage_free_bytes));
    h_uptime.push_back(absl::StrCat(h.uptime_seconds));
    h_versions.push_back(VersionsJson(h.versions));
  }
  std::vector<std::string> s_id, s_online, s_session, s_version;
  for (const core::StatusReport* r : NewestPerTerminal(statuses)) {
    s_id.push_back(r->terminal_id);
    s_online.push_back(r->online ? "t" : "f");
    s_session.push_back(absl::StrCat(r->session));
    s_version.push_back(r->agent_version);
  }
  return pool_.Transact([&](pqxx::transaction_base& txn) {
    if (!h_id.empty()) {
      NotifyChanged(
          txn,
          txn.exec_params(kApplyHeartbeats, PgTextArray(h_id), PgTextArray(h_session),
                          PgTextArray(h_battery), PgTextArray(h_charging), PgTextArray(h_temp),
                          PgTextArray(h_paper), PgTextArray(h_signal), PgTextArray(h_network),
                          PgTextArray(h_storage), PgTextArray(h_uptime), PgTextArray(h_versions)));
    }
    if (!s_id.empty()) {
      NotifyChanged(txn, txn.exec_params(kApplyStatuses, PgTextArray(s_id), PgTextArray(s_online),
                                         PgTextArray(s_session), PgTextArray(s_version)));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int> PgStore::MarkSilentOffline(absl::Duration timeout) {
  return TransactFor<int>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
    pqxx::result silent = txn.exec_params(kMarkSilentOffline, absl::ToInt64Milliseconds(timeout));
    NotifyChanged(txn, silent);
    return static_cast<int>(silent.size());
  });
}

}  // namespace posfleet::store

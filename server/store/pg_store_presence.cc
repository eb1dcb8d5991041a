// Presence and health from the terminal link, in batches.

#include <map>
#include <optional>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/store/pg_change_feed.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

// A report may move a terminal's session forward by at most this much (a connection adds one);
// one claiming more is ignored, so a terminal cannot lock its presence at a huge session.
// Enrollment resets the session to 0 (pg_store_enrollment.cc).
#define POSFLEET_MAX_SESSION_JUMP "100000"

// Arrays go in as text[] and are cast in SQL; unknown terminals fall out at the JOIN.
constexpr char kApplyHeartbeats[] =
    "INSERT INTO terminal_status AS s (terminal_id, online, session, last_seen, change_time, "
    "battery_percent, charging, temperature_c, paper, signal_dbm, network, storage_free_bytes, "
    "uptime_seconds, versions, history_time) "
    "SELECT x.id, true, x.session, now(), now(), x.battery, x.charging, x.temperature, x.paper, "
    "x.signal, x.network, x.storage, x.uptime, x.versions::jsonb, "
    "CASE WHEN $12::int8 >= 0 THEN now() END "
    "FROM unnest($1::text[], $2::text[]::int8[], $3::text[]::int[], $4::text[]::bool[], "
    "$5::text[]::int[], $6::text[], $7::text[]::int[], $8::text[], $9::text[]::int8[], "
    "$10::text[]::int8[], $11::text[]) AS x(id, session, battery, charging, temperature, paper, "
    "signal, network, storage, uptime, versions) JOIN terminals t ON t.id = x.id "
    "AND t.state = 'active' "
    "ON CONFLICT (terminal_id) DO UPDATE SET online = true, session = excluded.session, "
    "last_seen = now(), change_time = CASE WHEN s.online THEN s.change_time ELSE now() END, "
    "battery_percent = excluded.battery_percent, charging = excluded.charging, "
    "temperature_c = excluded.temperature_c, paper = excluded.paper, "
    "signal_dbm = excluded.signal_dbm, network = excluded.network, "
    "storage_free_bytes = excluded.storage_free_bytes, uptime_seconds = excluded.uptime_seconds, "
    "versions = excluded.versions, "
    "history_time = CASE WHEN $12::int8 >= 0 AND (s.history_time IS NULL OR "
    "s.history_time <= now() - $12::int8 * interval '1 millisecond') THEN now() "
    "ELSE s.history_time END "
    "WHERE excluded.session >= s.session AND excluded.session - s.session "
    "<= " POSFLEET_MAX_SESSION_JUMP
    " "
    "RETURNING s.terminal_id, s.history_time IS NOT DISTINCT FROM now() AS sampled";
// The sampled heartbeats of one batch, as the same parallel arrays.
constexpr char kInsertHistory[] =
    "INSERT INTO health_history (terminal_id, time, session, battery_percent, charging, "
    "temperature_c, paper, signal_dbm, network, storage_free_bytes, uptime_seconds, versions) "
    "SELECT x.id, now(), x.session, x.battery, x.charging, x.temperature, x.paper, x.signal, "
    "x.network, x.storage, x.uptime, x.versions::jsonb "
    "FROM unnest($1::text[], $2::text[]::int8[], $3::text[]::int[], $4::text[]::bool[], "
    "$5::text[]::int[], $6::text[], $7::text[]::int[], $8::text[], $9::text[]::int8[], "
    "$10::text[]::int8[], $11::text[]) AS x(id, session, battery, charging, temperature, paper, "
    "signal, network, storage, uptime, versions)";
constexpr char kApplyStatuses[] =
    "INSERT INTO terminal_status AS s (terminal_id, online, session, last_seen, change_time, "
    "agent_version) "
    "SELECT x.id, x.online, x.session, now(), now(), x.agent_version "
    "FROM unnest($1::text[], $2::text[]::bool[], $3::text[]::int8[], $4::text[]) "
    "AS x(id, online, session, agent_version) JOIN terminals t ON t.id = x.id "
    "AND t.state = 'active' "
    "ON CONFLICT (terminal_id) DO UPDATE SET online = excluded.online, "
    "session = excluded.session, "
    "last_seen = CASE WHEN excluded.online THEN now() ELSE s.last_seen END, "
    "change_time = CASE WHEN s.online <> excluded.online THEN now() ELSE s.change_time END, "
    "agent_version = CASE WHEN excluded.agent_version <> '' THEN excluded.agent_version "
    "ELSE s.agent_version END "
    "WHERE excluded.session >= s.session AND excluded.session - s.session "
    "<= " POSFLEET_MAX_SESSION_JUMP " RETURNING s.terminal_id";
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

// Heartbeats as the parallel text arrays of kApplyHeartbeats and kInsertHistory ($1..$11).
struct HealthArrays {
  std::vector<std::string> id, session, battery, charging, temp, paper, signal, network, storage,
      uptime, versions;

  void Add(const core::HealthReport& r) {
    const core::Health& h = r.health;
    id.push_back(r.terminal_id);
    session.push_back(absl::StrCat(r.session));
    battery.push_back(absl::StrCat(h.battery_percent));
    charging.push_back(h.charging ? "t" : "f");
    temp.push_back(absl::StrCat(h.temperature_c));
    paper.push_back(h.paper);
    signal.push_back(absl::StrCat(h.signal_dbm));
    network.push_back(h.network);
    storage.push_back(absl::StrCat(h.storage_free_bytes));
    uptime.push_back(absl::StrCat(h.uptime_seconds));
    versions.push_back(LabelsToJson(h.versions));
  }

  // Appends entry `i` of `from`.
  void CopyFrom(const HealthArrays& from, size_t i) {
    for (auto member : kMembers) (this->*member).push_back((from.*member)[i]);
  }

  // Runs `sql` with the arrays as $1..$11 and, when given, `extra` as $12.
  pqxx::result Exec(pqxx::transaction_base& txn, const char* sql,
                    std::optional<int64_t> extra) const {
    if (extra) {
      return txn.exec_params(sql, PgTextArray(id), PgTextArray(session), PgTextArray(battery),
                             PgTextArray(charging), PgTextArray(temp), PgTextArray(paper),
                             PgTextArray(signal), PgTextArray(network), PgTextArray(storage),
                             PgTextArray(uptime), PgTextArray(versions), *extra);
    }
    return txn.exec_params(sql, PgTextArray(id), PgTextArray(session), PgTextArray(battery),
                           PgTextArray(charging), PgTextArray(temp), PgTextArray(paper),
                           PgTextArray(signal), PgTextArray(network), PgTextArray(storage),
                           PgTextArray(uptime), PgTextArray(versions));
  }

  static constexpr std::vector<std::string> HealthArrays::*kMembers[] = {
      &HealthArrays::id,       &HealthArrays::session, &HealthArrays::battery,
      &HealthArrays::charging, &HealthArrays::temp,    &HealthArrays::paper,
      &HealthArrays::signal,   &HealthArrays::network, &HealthArrays::storage,
      &HealthArrays::uptime,   &HealthArrays::versions};
};

}  // namespace

absl::StatusOr<core::HistoryWritten> PgStore::ApplyLinkReports(
    const std::vector<core::StatusReport>& statuses,
    const std::vector<core::HealthReport>& heartbeats, absl::Duration history_every) {
  core::HistoryWritten written;
  if (statuses.empty() && heartbeats.empty()) return written;
  HealthArrays health;
  // One report per terminal, also because ON CONFLICT may touch a row only once per statement.
  for (const core::HealthReport* r : core::NewestPerTerminal(heartbeats)) health.Add(*r);
  std::unordered_map<std::string, size_t> position;  // terminal id -> index in `health`
  for (size_t i = 0; i < health.id.size(); ++i) position.emplace(health.id[i], i);
  std::vector<std::string> s_id, s_online, s_session, s_version;
  for (const core::StatusReport* r : core::NewestPerTerminal(statuses)) {
    s_id.push_back(r->terminal_id);
    s_online.push_back(r->online ? "t" : "f");
    s_session.push_back(absl::StrCat(r->session));
    s_version.push_back(r->agent_version);
  }
  const int64_t history_ms =
      history_every == core::kNoHistory ? -1 : absl::ToInt64Milliseconds(history_every);
  absl::Status s = pool_.Transact([&](pqxx::transaction_base& txn) {
    written = {};
    if (!health.id.empty()) {
      pqxx::result changed = health.Exec(txn, kApplyHeartbeats, history_ms);
      NotifyChanged(txn, changed);
      HealthArrays sampled;
      for (const pqxx::row& row : changed) {
        if (row[1].as<bool>()) sampled.CopyFrom(health, position.at(row[0].c_str()));
      }
      if (!sampled.id.empty()) {
        // In a savepoint: history that cannot be written (no partition for today because
        // maintenance has not run) must not cost the terminals their presence. Written out by
        // hand: libpqxx 6's subtransaction only opens its savepoint on exec(), not exec_params().
        txn.exec("SAVEPOINT history");
        try {
          sampled.Exec(txn, kInsertHistory, std::nullopt);
          txn.exec("RELEASE SAVEPOINT history");
          written.samples = static_cast<int>(sampled.id.size());
        } catch (const pqxx::sql_error& e) {
          txn.exec("ROLLBACK TO SAVEPOINT history");
          spdlog::warn("health history not written ({} sample(s)): {}", sampled.id.size(),
                       e.what());
          written.failed = true;
        }
      }
    }
    if (!s_id.empty()) {
      NotifyChanged(txn, txn.exec_params(kApplyStatuses, PgTextArray(s_id), PgTextArray(s_online),
                                         PgTextArray(s_session), PgTextArray(s_version)));
    }
    std::vector<std::string> all = health.id;
    all.insert(all.end(), s_id.begin(), s_id.end());
    const std::unordered_set<std::string> inactive = RecordRefusedUplinks(txn, all);
    for (const std::string& id : all) written.refused_inactive += inactive.count(id);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return written;
}

absl::StatusOr<int> PgStore::MarkSilentOffline(absl::Duration timeout) {
  return TransactFor<int>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
    pqxx::result silent = txn.exec_params(kMarkSilentOffline, absl::ToInt64Milliseconds(timeout));
    NotifyChanged(txn, silent);
    return static_cast<int>(silent.size());
  });
}

}  // namespace posfleet::store

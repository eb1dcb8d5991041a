// Health history: reading a terminal's samples, and the daily partitions' upkeep.

#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

// One statement for scope check and page: no row when the terminal is outside the scope, one row
// of NULLs when it has no samples in the range. $3/$4: range in microseconds (0: unbounded); $5:
// keyset position (0: from the newest); $6: rows to fetch.
constexpr char kListHistory[] =
    "SELECT " POSFLEET_US("h.time") ", h.session, h.battery_percent, h.charging, "
    "h.temperature_c, h.paper, h.signal_dbm, h.network, h.storage_free_bytes, h.uptime_seconds, "
    "h.versions::text FROM terminals t LEFT JOIN LATERAL (SELECT * FROM health_history x "
    "WHERE x.terminal_id = t.id "
    "AND ($3::int8 = 0 OR x.time >= 'epoch'::timestamptz + $3::int8 * interval '1 microsecond') "
    "AND ($4::int8 = 0 OR x.time < 'epoch'::timestamptz + $4::int8 * interval '1 microsecond') "
    "AND ($5::int8 = 0 OR x.time < 'epoch'::timestamptz + $5::int8 * interval '1 microsecond') "
    "ORDER BY x.time DESC LIMIT $6) h ON true "
    "WHERE t.id = $1 AND ($2 = '' OR t.tenant_id = $2)";

// Partition upkeep runs on one replica at a time; the others skip instead of queueing.
constexpr char kTryMaintenanceLock[] = "SELECT pg_try_advisory_xact_lock(7317003)";
constexpr char kListPartitions[] =
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'health_history'::regclass ORDER BY c.relname";
constexpr char kPartitionPrefix[] = "health_history_p";

std::string PartitionName(absl::CivilDay day) {
  return absl::StrFormat("%s%04d%02d%02d", kPartitionPrefix, day.year(), day.month(), day.day());
}

std::string DayStart(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d 00:00:00+00", day.year(), day.month(), day.day());
}

// The day of a partition posfleet named, or nullopt for any other name.
std::optional<absl::CivilDay> PartitionDay(const std::string& name) {
  static const std::regex kName("health_history_p(\\d{4})(\\d{2})(\\d{2})");
  std::smatch m;
  if (!std::regex_match(name, m, kName)) return std::nullopt;
  const absl::CivilDay day(std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]));
  if (PartitionName(day) != name) return std::nullopt;  // not a real date (normalized away)
  return day;
}

core::HealthSample SampleFromRow(const pqxx::row& r) {
  core::HealthSample s;
  s.time = absl::FromUnixMicros(r[0].as<int64_t>());
  s.session = r[1].as<int64_t>();
  s.health = HealthFromRow(r, 2);
  return s;
}

int64_t SampleTime(const pqxx::row& r) { return r[0].as<int64_t>(); }

}  // namespace

absl::StatusOr<core::Slice<core::HealthSample>> PgStore::ListHealthHistory(
    const core::Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
    std::optional<absl::Time> end_time, const core::Window& window) {
  using Slice = core::Slice<core::HealthSample>;
  return ReadFor<Slice>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Slice> {
    pqxx::result r = txn.exec_params(kListHistory, std::string(terminal_id), scope.tenant_id,
                                     start_time ? absl::ToUnixMicros(*start_time) : int64_t{0},
                                     end_time ? absl::ToUnixMicros(*end_time) : int64_t{0},
                                     window.after, window.limit + 1);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("terminal ", terminal_id, " not found"));
    if (r[0][0].is_null()) return Slice{};
    return SliceFrom<core::HealthSample>(r, window.limit, SampleFromRow, &SampleTime);
  });
}

absl::StatusOr<core::PartitionChanges> PgStore::MaintainHealthHistory(absl::Time now,
                                                                      int days_ahead,
                                                                      absl::Duration retention) {
  using core::PartitionChanges;
  return TransactFor<PartitionChanges>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<PartitionChanges> {
        PartitionChanges changes;
        if (!txn.exec(kTryMaintenanceLock)[0][0].as<bool>()) {
          changes.skipped = true;
          return changes;
        }
        std::set<absl::CivilDay> existing;
        for (const pqxx::row& row : txn.exec(kListPartitions)) {
          const std::string name = row[0].c_str();
          std::optional<absl::CivilDay> day = PartitionDay(name);
          if (!day) continue;
          // A partition holds its day; it expires when the whole day is older than `retention`.
          if (absl::FromCivil(*day + 1, absl::UTCTimeZone()) <= now - retention) {
            txn.exec(absl::StrCat("DROP TABLE ", name));
            changes.dropped.push_back(name);
          } else {
            existing.insert(*day);
          }
        }
        const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
        for (absl::CivilDay day = today; day <= today + days_ahead; ++day) {
          if (existing.count(day) > 0) continue;
          // Names and bounds are made from dates here, never from input.
          txn.exec(absl::StrCat("CREATE TABLE ", PartitionName(day),
                                " PARTITION OF health_history FOR VALUES FROM ('", DayStart(day),
                                "') TO ('", DayStart(day + 1), "')"));
          changes.created.push_back(PartitionName(day));
        }
        return changes;
      });
}

}  // namespace posfleet::store

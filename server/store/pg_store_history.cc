// Health history: reading a terminal's samples, and the daily partitions' upkeep.

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "server/store/partitions.h"
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
constexpr int64_t kMaintenanceLock = 7317003;

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
  // A partition holds its day; it expires when the whole day is older than `retention`.
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const absl::CivilDay first_kept = absl::ToCivilDay(now - retention, absl::UTCTimeZone());
  return TransactFor<PartitionChanges>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<PartitionChanges> {
        return KeepPartitions(txn, kMaintenanceLock, "health_history", first_kept, today,
                              today + days_ahead);
      });
}

}  // namespace posfleet::store

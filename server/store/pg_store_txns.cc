// Transactions: idempotent batched ingest, listing, daily totals, silent terminals, and the
// monthly partitions' upkeep.

#include <algorithm>
#include <numeric>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "server/store/partitions.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

// Records of terminals that exist but are not active are refused (RecordRefusedUplinks).
constexpr char kKnownTerminals[] =
    "SELECT id, state = 'active' FROM terminals WHERE id = ANY($1::text[])";
// The records as the parallel text arrays $1..$16, one row each, numbered n from 1.
#define POSFLEET_TXN_ROWS                                                                       \
  "FROM unnest($1::text[], $2::text[], $3::text[]::int8[], $4::text[]::int8[], "                \
  "$5::text[]::int2[], $6::text[]::int2[], $7::text[]::int8[], $8::text[], $9::text[], "        \
  "$10::text[], $11::text[]::int2[], $12::text[], $13::text[], $14::text[], $15::text[], "      \
  "$16::text[]) WITH ORDINALITY AS x(terminal_id, txn_id, seq, time_us, type, result, amount, " \
  "currency, response_code, scheme, entry_mode, masked_pan, stan, auth_code, mid, tid, n) "
// What makes two submissions of one transaction id the same record: every field but the outbox
// seq (a payment app may submit the same record again through a new outbox). The same expression
// filled txn_ids from the stored transactions (migrations/000009_txn_ids.up.sql).
#define POSFLEET_TXN_CONTENT                                                                    \
  "sha256(convert_to(concat_ws(chr(31), x.time_us, x.type, x.result, x.amount, x.currency, "    \
  "x.response_code, x.scheme, x.entry_mode, x.masked_pan, x.stan, x.auth_code, x.mid, x.tid), " \
  "'UTF8'))"
// Claims each transaction id of an active terminal, once per terminal whatever the record's time;
// returns the ids this batch claimed (a known id, or the second copy in the batch, claims none).
// Rows arrive in key order, so concurrent batches take the index locks in the same order.
constexpr char kClaimTxnIds[] =
    "INSERT INTO txn_ids (terminal_id, txn_id, time, content_sha256) "
    "SELECT x.terminal_id, x.txn_id, 'epoch'::timestamptz + x.time_us * interval '1 "
    "microsecond', " POSFLEET_TXN_CONTENT " " POSFLEET_TXN_ROWS
    "JOIN terminals t ON t.id = x.terminal_id AND t.state = 'active' "
    "ON CONFLICT DO NOTHING RETURNING terminal_id, txn_id";
// For records whose id was known: whether the stored record has the same content (a replay) or
// not (a conflict). A separate statement, so that it sees what another replica committed while
// the claim waited for it.
constexpr char kSameContent[] =
    "SELECT x.n, ids.content_sha256 = " POSFLEET_TXN_CONTENT " " POSFLEET_TXN_ROWS
    "JOIN txn_ids ids ON ids.terminal_id = x.terminal_id AND ids.txn_id = x.txn_id";
// The newly claimed records. Tenant and merchant are the terminal's now.
constexpr char kInsertTxns[] =
    "INSERT INTO transactions (tenant_id, merchant_id, terminal_id, txn_id, seq, time, type, "
    "result, amount_minor, currency, response_code, scheme, entry_mode, masked_pan, stan, "
    "auth_code, mid, tid) "
    "SELECT t.tenant_id, t.merchant_id, x.terminal_id, x.txn_id, x.seq, "
    "'epoch'::timestamptz + x.time_us * interval '1 microsecond', x.type, x.result, x.amount, "
    "x.currency, x.response_code, x.scheme, x.entry_mode, x.masked_pan, x.stan, x.auth_code, "
    "x.mid, x.tid " POSFLEET_TXN_ROWS
    "JOIN terminals t ON t.id = x.terminal_id AND t.state = 'active' "
    "ON CONFLICT DO NOTHING";
// To the minute: at most one row update per terminal and minute however busy it is. The rows are
// locked in terminal order first (as the presence writer and the insert above take theirs), so
// concurrent writers, in one replica or several, cannot deadlock on terminal_status.
constexpr char kTouchLastTxn[] =
    "WITH x AS (SELECT id, 'epoch'::timestamptz + max(time_us) * interval '1 microsecond' AS time "
    "FROM unnest($1::text[], $2::text[]::int8[]) AS u(id, time_us) GROUP BY id), "
    "due AS (SELECT s.terminal_id, x.time FROM terminal_status s JOIN x ON s.terminal_id = x.id "
    "WHERE s.last_txn_time IS NULL OR s.last_txn_time < x.time - interval '1 minute' "
    "ORDER BY s.terminal_id FOR UPDATE OF s) "
    "UPDATE terminal_status s SET last_txn_time = due.time FROM due "
    "WHERE s.terminal_id = due.terminal_id AND (s.last_txn_time IS NULL OR "
    "s.last_txn_time < due.time - interval '1 minute')";

#define POSFLEET_TXN_COLUMNS \
  "id, tenant_id, merchant_id, terminal_id, txn_id, seq, " POSFLEET_US("time") ", type, "       \
  "result, amount_minor, currency, response_code, scheme, entry_mode, masked_pan, stan, "       \
  "auth_code, mid, tid, " POSFLEET_US("receive_time")

#define POSFLEET_AT(n) "('epoch'::timestamptz + $" #n "::int8 * interval '1 microsecond')"

constexpr char kListTxns[] =
    "SELECT " POSFLEET_TXN_COLUMNS " FROM transactions "
    "WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR terminal_id = $2) "
    "AND ($3 = '' OR merchant_id = $3) AND time >= " POSFLEET_AT(4) " AND time < " POSFLEET_AT(5)
    " AND ($6::int2 = 0 OR type = $6::int2) AND ($7::int2 = 0 OR result = $7::int2) "
    "AND ($8::int8 = 0 OR id < $8::int8) ORDER BY id DESC LIMIT $9";

constexpr char kDailyTotals[] =
    "SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, merchant_id, "
    "CASE WHEN $4 THEN terminal_id ELSE '' END AS terminal, currency, type, result, count(*), "
    "sum(amount_minor)::int8 FROM transactions "
    "WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR merchant_id = $2) "
    "AND ($3 = '' OR terminal_id = $3) AND time >= " POSFLEET_AT(5) " AND time < " POSFLEET_AT(
        6) " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6";

constexpr char kSilent[] =
    "SELECT t.id, t.merchant_id, t.serial, " POSFLEET_US("s.last_txn_time") ", t.seq "
    "FROM terminals t JOIN terminal_status s ON s.terminal_id = t.id "
    "WHERE s.online AND ($1 = '' OR t.tenant_id = $1) AND ($2 = '' OR t.merchant_id = $2) "
    "AND (s.last_txn_time IS NULL OR s.last_txn_time < now() - $3::int8 * interval '1 second') "
    "AND t.seq > $4 ORDER BY t.seq LIMIT $5";

constexpr int64_t kMaintenanceLock = 7317004;
constexpr char kExpireTxnIds[] = "DELETE FROM txn_ids WHERE time < " POSFLEET_AT(1);
constexpr char kPurgeDefault[] = "DELETE FROM transactions_default WHERE time < " POSFLEET_AT(1);

core::Txn TxnFromRow(const pqxx::row& r) {
  core::Txn t;
  t.id = r[0].as<int64_t>();
  t.tenant_id = r[1].c_str();
  t.merchant_id = r[2].c_str();
  t.terminal_id = r[3].c_str();
  t.txn_id = r[4].c_str();
  t.seq = r[5].as<int64_t>();
  t.time = absl::FromUnixMicros(r[6].as<int64_t>());
  t.type = r[7].as<int>();
  t.result = r[8].as<int>();
  t.amount_minor = r[9].as<int64_t>();
  t.currency = r[10].c_str();
  t.response_code = r[11].c_str();
  t.scheme = r[12].c_str();
  t.entry_mode = r[13].as<int>();
  t.masked_pan = r[14].c_str();
  t.stan = r[15].c_str();
  t.auth_code = r[16].c_str();
  t.mid = r[17].c_str();
  t.tid = r[18].c_str();
  t.receive_time = absl::FromUnixMicros(r[19].as<int64_t>());
  return t;
}

int64_t TxnPosition(const pqxx::row& r) { return r[0].as<int64_t>(); }

}  // namespace

absl::StatusOr<core::IngestOutcome> PgStore::IngestTransactions(
    const std::vector<core::Txn>& txns) {
  core::IngestOutcome out;
  out.committed.assign(txns.size(), false);
  if (txns.empty()) return out;
  // Rows in key order, so two replicas inserting overlapping batches (a replay delivered to
  // both) take their index locks in the same order and cannot deadlock.
  std::vector<size_t> order(txns.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(txns[a].terminal_id, txns[a].txn_id) <
           std::tie(txns[b].terminal_id, txns[b].txn_id);
  });
  // The records as parallel text arrays, in `order`.
  auto arrays_of = [&](const std::vector<size_t>& rows, std::string(&arrays)[16]) {
    std::vector<std::string> cols[16];
    for (auto& c : cols) c.reserve(rows.size());
    for (size_t i : rows) {
      const core::Txn& t = txns[i];
      cols[0].push_back(t.terminal_id);
      cols[1].push_back(t.txn_id);
      cols[2].push_back(absl::StrCat(t.seq));
      cols[3].push_back(absl::StrCat(absl::ToUnixMicros(t.time)));
      cols[4].push_back(absl::StrCat(t.type));
      cols[5].push_back(absl::StrCat(t.result));
      cols[6].push_back(absl::StrCat(t.amount_minor));
      cols[7].push_back(t.currency);
      cols[8].push_back(t.response_code);
      cols[9].push_back(t.scheme);
      cols[10].push_back(absl::StrCat(t.entry_mode));
      cols[11].push_back(t.masked_pan);
      cols[12].push_back(t.stan);
      cols[13].push_back(t.auth_code);
      cols[14].push_back(t.mid);
      cols[15].push_back(t.tid);
    }
    for (int i = 0; i < 16; ++i) arrays[i] = PgTextArray(cols[i]);
  };
  auto exec16 = [](pqxx::transaction_base& txn, const char* sql, const std::string(&a)[16]) {
    return txn.exec_params(sql, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                           a[11], a[12], a[13], a[14], a[15]);
  };
  std::vector<std::string> ids;
  for (size_t i : order) {
    if (ids.empty() || ids.back() != txns[i].terminal_id) ids.push_back(txns[i].terminal_id);
  }
  std::string all[16];
  arrays_of(order, all);
  const std::string id_array = PgTextArray(ids);
  absl::Status s = pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    out = core::IngestOutcome{};
    out.committed.assign(txns.size(), false);
    out.conflict.assign(txns.size(), false);
    std::unordered_set<std::string> known, active;
    std::vector<std::string> inactive;
    for (const pqxx::row& row : txn.exec_params(kKnownTerminals, id_array)) {
      known.insert(row[0].c_str());
      if (row[1].as<bool>()) {
        active.insert(row[0].c_str());
      } else {
        inactive.push_back(row[0].c_str());
      }
    }
    if (!inactive.empty()) RecordRefusedUplinks(txn, inactive);
    // Claim the ids; the first copy of a claimed id in the batch is new, every other record of
    // an active terminal is a replay or a conflict.
    std::set<std::pair<std::string, std::string>> claimed;
    for (const pqxx::row& row : exec16(txn, kClaimTxnIds, all)) {
      claimed.emplace(row[0].c_str(), row[1].c_str());
    }
    std::vector<size_t> fresh, known_ids;
    for (size_t i : order) {
      const core::Txn& t = txns[i];
      if (active.count(t.terminal_id) == 0) continue;
      if (claimed.erase({t.terminal_id, t.txn_id}) > 0) {
        fresh.push_back(i);
      } else {
        known_ids.push_back(i);
      }
    }
    if (!fresh.empty()) {
      // Every record new, the common case: they are `all`, in the same order.
      const bool everything = fresh.size() == order.size();
      std::string some[16];
      if (!everything) arrays_of(fresh, some);
      out.inserted =
          static_cast<int>(exec16(txn, kInsertTxns, everything ? all : some).affected_rows());
      for (size_t i : fresh) out.committed[i] = true;
    }
    if (!known_ids.empty()) {
      std::string a[16];
      arrays_of(known_ids, a);
      for (const pqxx::row& row : exec16(txn, kSameContent, a)) {
        const size_t i = known_ids[static_cast<size_t>(row[0].as<int64_t>() - 1)];
        if (row[1].as<bool>()) {
          out.committed[i] = true;  // a replay: stored before, acknowledged again
          ++out.duplicates;
        } else {
          out.conflict[i] = true;  // the id is taken by another record: never stored
          ++out.conflicts;
        }
      }
    }
    txn.exec_params(kTouchLastTxn, all[0], all[3]);
    for (size_t i = 0; i < txns.size(); ++i) {
      if (active.count(txns[i].terminal_id) > 0) continue;
      if (known.count(txns[i].terminal_id) > 0) {
        ++out.inactive_terminal;
      } else {
        ++out.unknown_terminal;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<core::Slice<core::Txn>> PgStore::ListTransactions(const core::TxnFilter& f,
                                                                 const core::Window& window) {
  using Slice = core::Slice<core::Txn>;
  return ReadFor<Slice>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Slice> {
    pqxx::result r =
        txn.exec_params(kListTxns, f.scope.tenant_id, f.terminal_id, f.merchant_id,
                        absl::ToUnixMicros(f.start_time), absl::ToUnixMicros(f.end_time), f.type,
                        f.result, window.after, window.limit + 1);
    return SliceFrom<core::Txn>(r, window.limit, TxnFromRow, &TxnPosition);
  });
}

absl::StatusOr<std::vector<core::DailyTotal>> PgStore::DailyTotals(const core::TxnReportFilter& f) {
  using Totals = std::vector<core::DailyTotal>;
  return ReadFor<Totals>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Totals> {
    Totals totals;
    for (const pqxx::row& r : txn.exec_params(
             kDailyTotals, f.scope.tenant_id, f.merchant_id, f.terminal_id, f.by_terminal,
             absl::ToUnixMicros(f.start_time), absl::ToUnixMicros(f.end_time))) {
      totals.push_back(core::DailyTotal{r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(),
                                        r[4].as<int>(), r[5].as<int>(), r[6].as<int64_t>(),
                                        r[7].as<int64_t>()});
    }
    return totals;
  });
}

absl::StatusOr<core::Slice<core::SilentTerminal>> PgStore::ListSilentTerminals(
    const core::Scope& scope, absl::string_view merchant_id, absl::Duration silent_for,
    const core::Window& window) {
  using Slice = core::Slice<core::SilentTerminal>;
  return ReadFor<Slice>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Slice> {
    pqxx::result r =
        txn.exec_params(kSilent, scope.tenant_id, std::string(merchant_id),
                        absl::ToInt64Seconds(silent_for), window.after, window.limit + 1);
    return SliceFrom<core::SilentTerminal>(
        r, window.limit,
        [](const pqxx::row& row) {
          core::SilentTerminal t{row[0].c_str(), row[1].c_str(), row[2].c_str(), std::nullopt};
          if (!row[3].is_null())
            t.last_transaction_time = absl::FromUnixMicros(row[3].as<int64_t>());
          return t;
        },
        [](const pqxx::row& row) { return row[4].as<int64_t>(); });
  });
}

absl::StatusOr<core::PartitionChanges> PgStore::MaintainTransactions(absl::Time now,
                                                                     int months_ahead,
                                                                     int retention_months) {
  using core::PartitionChanges;
  const absl::CivilMonth current(absl::ToCivilDay(now, absl::UTCTimeZone()));
  const absl::CivilMonth oldest_kept = current - (retention_months - 1);
  return TransactFor<PartitionChanges>(
      pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<PartitionChanges> {
        PartitionChanges changes = KeepPartitions(txn, kMaintenanceLock, "transactions",
                                                  oldest_kept, oldest_kept, current + months_ahead);
        if (!changes.skipped) {
          const int64_t cutoff =
              absl::ToUnixMicros(absl::FromCivil(oldest_kept, absl::UTCTimeZone()));
          txn.exec_params(kPurgeDefault, cutoff);
          // The ids of the records dropped with their months may be used again.
          txn.exec_params(kExpireTxnIds, cutoff);
        }
        return changes;
      });
}

}  // namespace posfleet::store

#pragma once

// Upkeep of a table range-partitioned by UTC calendar periods (days or months): what the health
// history and the transactions share. Partitions are named PARENT_pYYYYMMDD (days) or
// PARENT_pYYYYMM (months); tables with other names are left alone.

#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "server/core/store.h"

namespace posfleet::store {

inline std::string PartitionSuffix(absl::CivilDay d) {
  return absl::StrFormat("%04d%02d%02d", d.year(), d.month(), d.day());
}
inline std::string PartitionSuffix(absl::CivilMonth m) {
  return absl::StrFormat("%04d%02d", m.year(), m.month());
}

// The period a partition suffix names, or nullopt if it is not exactly one (a real date, in the
// canonical form).
template <typename Period>
std::optional<Period> ParsePartitionSuffix(const std::string& digits) {
  const size_t want = PartitionSuffix(Period()).size();
  if (digits.size() != want) return std::nullopt;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  const Period p(std::stoi(digits.substr(0, 4)), std::stoi(digits.substr(4, 2)),
                 want == 8 ? std::stoi(digits.substr(6, 2)) : 1);
  if (PartitionSuffix(p) != digits) return std::nullopt;  // normalized away: not a real date
  return p;
}

// Under the advisory lock `lock_id` (taken for the transaction; if another replica holds it,
// returns `skipped` at once): drops the posfleet partitions of `parent` for periods before
// `first_kept`, and creates the missing ones from `create_from` to `create_to`, both inclusive.
// Names and bounds are made from dates here, never from input.
template <typename Period>
core::PartitionChanges KeepPartitions(pqxx::transaction_base& txn, int64_t lock_id,
                                      const std::string& parent, Period first_kept,
                                      Period create_from, Period create_to) {
  core::PartitionChanges changes;
  if (!txn.exec_params1("SELECT pg_try_advisory_xact_lock($1)", lock_id)[0].as<bool>()) {
    changes.skipped = true;
    return changes;
  }
  const std::string prefix = parent + "_p";
  std::set<Period> existing;
  for (const pqxx::row& row :
       txn.exec_params("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = "
                       "i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY c.relname",
                       parent)) {
    const std::string name = row[0].c_str();
    if (name.rfind(prefix, 0) != 0) continue;
    std::optional<Period> period = ParsePartitionSuffix<Period>(name.substr(prefix.size()));
    if (!period) continue;
    if (*period < first_kept) {
      // DDL is the schema owner's: these run as it (migrations/000010_runtime_role.up.sql).
      txn.exec_params("SELECT posfleet_drop_partition($1, $2)", parent, name);
      changes.dropped.push_back(name);
    } else {
      existing.insert(*period);
    }
  }
  auto start = [](Period p) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S+00", absl::FromCivil(p, absl::UTCTimeZone()),
                            absl::UTCTimeZone());
  };
  for (Period p = create_from; p <= create_to; ++p) {
    if (existing.count(p) > 0) continue;
    const std::string name = prefix + PartitionSuffix(p);
    txn.exec_params("SELECT posfleet_create_partition($1, $2, $3::timestamptz, $4::timestamptz)",
                    parent, name, start(p), start(p + 1));
    changes.created.push_back(name);
  }
  return changes;
}

}  // namespace posfleet::store

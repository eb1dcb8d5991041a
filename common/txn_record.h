#pragma once

// Checks of a transaction record (posfleet/v1/txn.proto), shared by the agent's local API, which
// refuses a bad record before it enters the outbox, and the server's ingest, which must not trust
// the agent. See docs/transactions.md for the rules.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "posfleet/v1/txn.pb.h"

namespace posfleet {

struct TxnProblem {
  std::string field;   // "currency", "masked_pan", ... the record's field name
  std::string reason;  // for people; never contains the field's value
  // The field holds something that looks like a full card number: the record is quarantined,
  // and only its id (if clean) and this field's name may be logged.
  bool card_number = false;
};

// The first problem with `record`, or nullopt if it is acceptable. Card numbers are looked for in
// every text field first, so a record with one is always reported as card_number.
std::optional<TxnProblem> CheckTxnRecord(const v1::TxnRecord& record);

// Whether the record's time falls in [earliest, latest): the server keeps only the months it has
// partitions for, and refuses a record from a terminal whose clock is far off.
std::optional<TxnProblem> CheckTxnTime(const v1::TxnRecord& record, absl::Time earliest,
                                       absl::Time latest);

// 1-64 characters of [A-Za-z0-9._:-], and not a card number.
bool ValidTxnId(absl::string_view id);

// ISO 4217 alphabetic code in use ("EUR", "USD", ...).
bool KnownCurrency(absl::string_view code);

absl::Time TxnTime(const v1::TxnRecord& record);

// Lower-case names used by the CLI and reports: "sale", "approved", "contactless".
absl::string_view TxnTypeName(v1::TxnType type);
absl::string_view TxnResultName(v1::TxnResult result);
absl::string_view EntryModeName(v1::EntryMode mode);
std::optional<v1::TxnType> ParseTxnType(absl::string_view name);
std::optional<v1::TxnResult> ParseTxnResult(absl::string_view name);
std::optional<v1::EntryMode> ParseEntryMode(absl::string_view name);

}  // namespace posfleet

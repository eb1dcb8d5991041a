#include "common/txn_record.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/name_table.h"
#include "common/pan.h"

namespace posfleet {
namespace {

// ISO 4217 alphabetic codes in use (2024 list, funds codes and precious metals left out).
constexpr std::array<absl::string_view, 155> kCurrencies = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL",
};

constexpr NameTable<v1::TxnType, 6> kTypes = {{
    {v1::TXN_TYPE_SALE, "sale"},
    {v1::TXN_TYPE_REFUND, "refund"},
    {v1::TXN_TYPE_VOID, "void"},
    {v1::TXN_TYPE_PRE_AUTH, "pre-auth"},
    {v1::TXN_TYPE_COMPLETION, "completion"},
    {v1::TXN_TYPE_REVERSAL, "reversal"},
}};
constexpr NameTable<v1::TxnResult, 4> kResults = {{
    {v1::TXN_RESULT_APPROVED, "approved"},
    {v1::TXN_RESULT_DECLINED, "declined"},
    {v1::TXN_RESULT_FAILED, "failed"},
    {v1::TXN_RESULT_CANCELLED, "cancelled"},
}};
constexpr NameTable<v1::EntryMode, 4> kModes = {{
    {v1::ENTRY_MODE_CHIP, "chip"},
    {v1::ENTRY_MODE_CONTACTLESS, "contactless"},
    {v1::ENTRY_MODE_SWIPE, "swipe"},
    {v1::ENTRY_MODE_MANUAL, "manual"},
}};

TxnProblem Problem(absl::string_view field, absl::string_view reason) {
  return TxnProblem{std::string(field), std::string(reason), false};
}

// Every character printable ASCII from `allowed` (a predicate), length within bounds.
template <typename Pred>
bool Shaped(absl::string_view s, size_t min_len, size_t max_len, Pred allowed) {
  if (s.size() < min_len || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return allowed(c); });
}

bool IdChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}
bool Printable(char c) { return c >= 0x20 && c < 0x7f; }
bool IsMask(char c) { return c == '*' || c == 'X' || c == 'x' || c == '#'; }

// "411111******1111", "************1111", "4111**": at most six leading and four trailing
// digits around at least one mask character.
bool MaskedPanShape(absl::string_view s) {
  if (s.size() < 4 || s.size() > 19) return false;
  size_t i = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
  const size_t lead = i;
  while (i < s.size() && IsMask(s[i])) ++i;
  const size_t masks = i - lead;
  const size_t trail_start = i;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
  return i == s.size() && lead <= 6 && masks >= 1 && s.size() - trail_start <= 4;
}

}  // namespace

bool ValidTxnId(absl::string_view id) { return Shaped(id, 1, 64, IdChar) && !ContainsPan(id); }

bool KnownCurrency(absl::string_view code) {
  return std::binary_search(kCurrencies.begin(), kCurrencies.end(), code);
}

absl::Time TxnTime(const v1::TxnRecord& record) {
  return absl::FromUnixSeconds(record.time().seconds()) + absl::Nanoseconds(record.time().nanos());
}

std::optional<TxnProblem> CheckTxnRecord(const v1::TxnRecord& r) {
  const std::pair<absl::string_view, const std::string*> text[] = {
      {"txn_id", &r.txn_id()},
      {"currency", &r.currency()},
      {"response_code", &r.response_code()},
      {"scheme", &r.scheme()},
      {"masked_pan", &r.masked_pan()},
      {"stan", &r.stan()},
      {"auth_code", &r.auth_code()},
      {"mid", &r.mid()},
      {"tid", &r.tid()},
  };
  for (const auto& [field, value] : text) {
    if (ContainsPan(*value)) {
      return TxnProblem{std::string(field), "contains a card number", true};
    }
  }
  if (!Shaped(r.txn_id(), 1, 64, IdChar)) {
    return Problem("txn_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  }
  if (!r.has_time() || r.time().seconds() <= 0 || r.time().nanos() < 0 ||
      r.time().nanos() > 999999999) {
    return Problem("time", "must be set");
  }
  if (!NameIn(kTypes, r.type())) {
    return Problem("type", "must be sale, refund, void, pre-auth, completion or reversal");
  }
  if (!NameIn(kResults, r.result())) {
    return Problem("result", "must be approved, declined, failed or cancelled");
  }
  if (r.entry_mode() != v1::ENTRY_MODE_UNSPECIFIED && !NameIn(kModes, r.entry_mode())) {
    return Problem("entry_mode", "must be chip, contactless, swipe, manual or unspecified");
  }
  if (r.amount_minor() < 0) return Problem("amount_minor", "must not be negative");
  if (r.amount_minor() > 1'000'000'000'000'000) return Problem("amount_minor", "too large");
  if (!KnownCurrency(r.currency())) {
    return Problem("currency", "must be an ISO 4217 alphabetic code in use, like EUR");
  }
  if (!Shaped(r.response_code(), 0, 3, absl::ascii_isalnum)) {
    return Problem("response_code", "must be at most 3 letters or digits");
  }
  if (!Shaped(r.scheme(), 0, 24, [](char c) {
        return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_';
      })) {
    return Problem("scheme", "must be at most 24 characters of a-z 0-9 - _");
  }
  if (!r.masked_pan().empty() && !MaskedPanShape(r.masked_pan())) {
    return Problem("masked_pan",
                   "must keep at most the first six and last four digits, the rest masked");
  }
  if (!r.stan().empty() && !Shaped(r.stan(), 6, 6, absl::ascii_isdigit)) {
    return Problem("stan", "must be 6 digits");
  }
  if (!Shaped(r.auth_code(), 0, 6, absl::ascii_isalnum)) {
    return Problem("auth_code", "must be at most 6 letters or digits");
  }
  if (!Shaped(r.mid(), 0, 32, Printable)) return Problem("mid", "must be at most 32 characters");
  if (!Shaped(r.tid(), 0, 16, Printable)) return Problem("tid", "must be at most 16 characters");
  return std::nullopt;
}

std::optional<TxnProblem> CheckTxnTime(const v1::TxnRecord& record, absl::Time earliest,
                                       absl::Time latest) {
  const absl::Time t = TxnTime(record);
  if (t < earliest) {
    return Problem("time",
                   absl::StrCat("older than the retention period (before ",
                                absl::FormatTime("%Y-%m-%d", earliest, absl::UTCTimeZone()), ")"));
  }
  if (t >= latest) return Problem("time", "in the future: is the terminal's clock right?");
  return std::nullopt;
}

absl::string_view TxnTypeName(v1::TxnType type) {
  return NameIn(kTypes, type).value_or("unspecified");
}
absl::string_view TxnResultName(v1::TxnResult result) {
  return NameIn(kResults, result).value_or("unspecified");
}
absl::string_view EntryModeName(v1::EntryMode mode) {
  return NameIn(kModes, mode).value_or("unspecified");
}
std::optional<v1::TxnType> ParseTxnType(absl::string_view name) { return ValueIn(kTypes, name); }
std::optional<v1::TxnResult> ParseTxnResult(absl::string_view name) {
  return ValueIn(kResults, name);
}
std::optional<v1::EntryMode> ParseEntryMode(absl::string_view name) {
  return ValueIn(kModes, name);
}

}  // namespace posfleet

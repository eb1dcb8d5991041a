#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace posfleet {

// True if `text` contains something that looks like a full card number: a run of 13 to 19
// digits, possibly grouped by single spaces or dashes ("4111 1111 1111 1111"), that passes the
// Luhn check and starts like a payment card of that length (see pan.cc). Used to refuse free text
// that would otherwise be stored, logged or echoed (payment data rules: at most the first six and
// last four digits may ever be kept). IMEIs and SIM ICCIDs, which are Luhn-valid too, pass.
bool ContainsPan(absl::string_view text);

// True if `digits` (only '0'..'9') passes the Luhn check.
bool LuhnValid(absl::string_view digits);

}  // namespace posfleet

namespace posfleet {

// `text` cut to `max_len` bytes for echoing in an error message or log line, or a fixed marker if
// it contains something that looks like a card number. Use it whenever caller input is echoed.
std::string Redact(absl::string_view text, size_t max_len = 64);

}  // namespace posfleet

#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace posfleet {

// True if `text` contains something that looks like a full card number: 13 to 19 digits, possibly
// grouped by single spaces or dashes ("4111 1111 1111 1111"), that pass the Luhn check. Any window
// of such a digit run counts, so a PAN glued to other digits is still found. Used to refuse free
// text that would otherwise be stored, logged or echoed (payment data rules: at most the first six
// and last four digits may ever be kept).
bool ContainsPan(absl::string_view text);

// True if `digits` (only '0'..'9') passes the Luhn check.
bool LuhnValid(absl::string_view digits);

}  // namespace posfleet

namespace posfleet {

// `text` cut to `max_len` bytes for echoing in an error message or log line, or a fixed marker if
// it contains something that looks like a card number. Use it whenever caller input is echoed.
std::string Redact(absl::string_view text, size_t max_len = 64);

}  // namespace posfleet

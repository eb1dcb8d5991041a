#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace posfleet {

// True if `text` contains something that looks like a full card number: 13 to 19 digits that pass
// the Luhn check and start like a payment card of that length (see pan.cc), written in any way a
// person or a program might. The one normalisation, defined here for every caller:
//   - digits are any script's decimal digits (Unicode Nd: fullwidth, Arabic-Indic, ...), folded;
//   - groups of digits joined by any run of separators (anything but letters and marks: spaces of
//     any kind, punctuation such as . _ : / -, symbols, controls, invisible format characters)
//     form a chain, and every run of whole consecutive groups in a chain with 13-19 digits in all
//     is checked ("4111.1111.1111.1111", "4111  -  1111 ...", "4111111111111111 12/25"), a run
//     of several groups only where each has 3 digits or more (so that dates and times, whose
//     groups have two, are not card numbers);
//   - a letter ends a chain, and a single group of more than 19 digits is not a card number. Used
//   to refuse free text
// that would otherwise be stored, logged or echoed (payment data rules: at most the first six and
// last four digits may ever be kept). IMEIs and SIM ICCIDs, which are Luhn-valid too, pass.
bool ContainsPan(absl::string_view text);

// ContainsPan for a raw binary payload that is not parsed (the broker's check of a retained
// protobuf message): a group of digits is also read without its first ASCII digit, which may be
// the length byte of the string that follows (lengths 48-57 are '0'-'9'), so "0" + a 48-byte
// fullwidth card number is found. Not for text: "04111111111111111" is not a card number there.
bool ContainsPanInBinary(absl::string_view payload);

// True if `digits` (only '0'..'9') passes the Luhn check.
bool LuhnValid(absl::string_view digits);

}  // namespace posfleet

namespace posfleet {

// `text` cut to `max_len` bytes for echoing in an error message or log line, or a fixed marker if
// it contains something that looks like a card number. Use it whenever caller input is echoed.
std::string Redact(absl::string_view text, size_t max_len = 64);

}  // namespace posfleet

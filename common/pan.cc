#include "common/pan.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <string>
#include <vector>

namespace posfleet {
namespace {

// One code point of text as the card-number scan sees it.
enum class UnitKind {
  kDigit,      // a decimal digit of any script (Unicode Nd): ASCII, fullwidth, Arabic-Indic...
  kSeparator,  // anything else that is not a letter or mark: spaces (no-break ones too),
               // punctuation, symbols, controls, invisible format characters; invalid UTF-8
  kBreak,      // a letter or a mark: ends the number
};
struct Unit {
  UnitKind kind = UnitKind::kSeparator;
  int digit = 0;
};

// Decodes the code point at `*i` (advancing it) and classifies it. Invalid UTF-8 counts as a
// separator byte, so it cannot hide a number either.
Unit NextUnit(absl::string_view text, size_t* i) {
  const uint8_t c = static_cast<uint8_t>(text[*i]);
  if (c < 0x80) {
    ++*i;
    if (c >= '0' && c <= '9') return {UnitKind::kDigit, c - '0'};
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return {UnitKind::kBreak, 0};
    return {UnitKind::kSeparator, 0};
  }
  UChar32 cp = 0;
  int32_t at = static_cast<int32_t>(*i);
  U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), at, static_cast<int32_t>(text.size()), cp);
  *i = static_cast<size_t>(at);
  if (cp < 0) return {UnitKind::kSeparator, 0};
  if (u_charType(cp) == U_DECIMAL_DIGIT_NUMBER) return {UnitKind::kDigit, u_charDigitValue(cp)};
  if (u_isalpha(cp) || (U_GET_GC_MASK(cp) & U_GC_M_MASK) != 0) return {UnitKind::kBreak, 0};
  return {UnitKind::kSeparator, 0};
}

// Whether a 13-19 digit number starts like a payment card of that length. Deliberately broad
// (a missed card number is worse than a refused label), but it keeps the Luhn-valid numbers a
// terminal estate carries every day out: IMEIs (15 digits, TAC 35/86/01...) and SIM ICCIDs (89...).
bool CardLike(const std::string& d) {
  const size_t n = d.size();
  switch (d[0]) {
    case '1':  // UATP
      return n == 15;
    case '2':  // Mastercard 2-series, Mir
      return n >= 16;
    case '3':
      if (d[1] == '4' || d[1] == '7') return n == 15;  // American Express
      if (d[1] == '5') return n >= 16;                 // JCB
      return d[1] == '0' || d[1] == '6' || d[1] == '8' || d[1] == '9' ? n >= 14 : false;  // Diners
    case '4':                                                                             // Visa
    case '5':  // Mastercard, Maestro
      // No card scheme issues 15 digits here; 15-digit numbers starting 44/45/49/50-54 are IMEIs.
      return n != 15;
    case '6':  // Discover, UnionPay, Maestro, RuPay
      return true;
    default:
      return false;
  }
}

bool LooksLikePan(const std::string& digits) {
  return digits.size() >= 13 && digits.size() <= 19 && CardLike(digits) && LuhnValid(digits);
}

}  // namespace

bool LuhnValid(absl::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return !digits.empty() && sum % 10 == 0;
}

namespace {

// ContainsPan, and with `binary`, also every group read without its first digit where that digit
// is an ASCII byte: in a raw protobuf payload a string's length byte comes right before it, and
// lengths 48-57 are '0'-'9'.
bool Scan(absl::string_view text, bool binary) {
  // Groups of digits (any script's, folded to ASCII) and whether each is joined to the one
  // before it by separators alone; a letter or a mark ends a chain.
  struct Group {
    std::string digits;
    bool ascii_first = false;
  };
  std::vector<Group> chain;
  bool found = false;
  auto check_chain = [&] {
    // Every run of whole consecutive groups with 13-19 digits in all; a run of several groups
    // only of groups of 3 digits or more, as card numbers are written (4-4-4-4, 4-6-5, ...),
    // so that dates and times ("2026-12-01 22:02:37.774") are not taken for one.
    for (size_t i = 0; i < chain.size() && !found; ++i) {
      const int variants = binary && chain[i].ascii_first && chain[i].digits.size() > 1 ? 2 : 1;
      for (int skip = 0; skip < variants && !found; ++skip) {
        const std::string first = chain[i].digits.substr(static_cast<size_t>(skip));
        std::string digits;
        for (size_t j = i; j < chain.size(); ++j) {
          const std::string& group = j == i ? first : chain[j].digits;
          if (digits.size() + group.size() > 19) break;
          if (j > i && (group.size() < 3 || first.size() < 3)) break;
          digits += group;
          if (digits.size() >= 13 && LooksLikePan(digits)) found = true;
        }
      }
    }
    chain.clear();
  };
  bool in_group = false;
  for (size_t i = 0; i < text.size() && !found;) {
    const bool ascii = static_cast<uint8_t>(text[i]) < 0x80;
    const Unit u = NextUnit(text, &i);
    switch (u.kind) {
      case UnitKind::kDigit:
        if (!in_group) chain.push_back({"", ascii});
        chain.back().digits.push_back(static_cast<char>('0' + u.digit));
        in_group = true;
        break;
      case UnitKind::kSeparator:
        in_group = false;
        break;
      case UnitKind::kBreak:
        in_group = false;
        check_chain();
        break;
    }
  }
  if (!found) check_chain();
  return found;
}

}  // namespace

bool ContainsPan(absl::string_view text) { return Scan(text, /*binary=*/false); }

bool ContainsPanInBinary(absl::string_view payload) { return Scan(payload, /*binary=*/true); }

std::string Redact(absl::string_view text, size_t max_len) {
  if (ContainsPan(text)) return "[redacted: card number]";
  return std::string(text.substr(0, max_len));
}

}  // namespace posfleet

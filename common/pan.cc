#include "common/pan.h"

#include <string>

namespace posfleet {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSeparator(char c) { return c == ' ' || c == '-'; }

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

bool ContainsPan(absl::string_view text) {
  std::string run;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : '\0';
    if (IsDigit(c)) {
      run.push_back(c);
      continue;
    }
    // A single separator between digits keeps the number going ("4111 1111 1111 1111").
    if (IsSeparator(c) && !run.empty() && i + 1 < text.size() && IsDigit(text[i + 1])) continue;
    if (LooksLikePan(run)) return true;
    run.clear();
  }
  return false;
}

std::string Redact(absl::string_view text, size_t max_len) {
  if (ContainsPan(text)) return "[redacted: card number]";
  return std::string(text.substr(0, max_len));
}

}  // namespace posfleet

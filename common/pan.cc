#include "common/pan.h"

#include <string>

namespace posfleet {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSeparator(char c) { return c == ' ' || c == '-'; }

bool RunContainsPan(const std::string& digits) {
  for (size_t len = 13; len <= 19 && len <= digits.size(); ++len) {
    for (size_t start = 0; start + len <= digits.size(); ++start) {
      if (LuhnValid(absl::string_view(digits).substr(start, len))) return true;
    }
  }
  return false;
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
    // A single separator between digits keeps the run going.
    if (IsSeparator(c) && !run.empty() && i + 1 < text.size() && IsDigit(text[i + 1])) continue;
    if (run.size() >= 13 && RunContainsPan(run)) return true;
    run.clear();
  }
  return false;
}

}  // namespace posfleet

namespace posfleet {

std::string Redact(absl::string_view text, size_t max_len) {
  if (ContainsPan(text)) return "[redacted: card number]";
  return std::string(text.substr(0, max_len));
}

}  // namespace posfleet

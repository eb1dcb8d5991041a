#include "server/core/validation.h"

#include "absl/strings/str_cat.h"
#include "common/pan.h"

namespace posfleet::core {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Identifiers typed by people and machines: letters, digits and ". _ -", starting alphanumeric.
bool IsCode(absl::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len || !IsAlnum(s[0])) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// Human text: no control characters (PostgreSQL also refuses NUL), bounded length, no card number.
std::optional<std::string> CheckText(absl::string_view s, size_t max_len, bool required) {
  if (s.empty()) {
    if (required) return "is required";
    return std::nullopt;
  }
  if (s.size() > max_len) return absl::StrCat("must be at most ", max_len, " bytes");
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  if (ContainsPan(s)) return "must not contain a card number";
  return std::nullopt;
}

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::Status TextStatus(absl::string_view field, absl::string_view s, size_t max_len,
                        bool required) {
  if (auto problem = CheckText(s, max_len, required)) return Invalid(field, *problem);
  return absl::OkStatus();
}

constexpr char kCodeRule[] = "must be 1-64 characters of A-Z a-z 0-9 . _ - starting alphanumeric";

std::optional<std::string> LabelKeyProblem(absl::string_view key) {
  // Kubernetes-like: 1-63 characters, alphanumeric at both ends, ". _ - /" inside.
  bool ok = !key.empty() && key.size() <= 63 && IsAlnum(key.front()) && IsAlnum(key.back());
  for (char c : key) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-' && c != '/') ok = false;
  }
  if (ok && !ContainsPan(key)) return std::nullopt;
  return absl::StrCat(
      "label key \"", Redact(key, 63),
      "\" must be 1-63 characters of A-Z a-z 0-9 . _ - /, alphanumeric at both ends");
}

std::optional<FieldError> CheckLabels(absl::string_view field, const Labels& labels) {
  if (labels.size() > kMaxLabels) {
    return FieldError{std::string(field), absl::StrCat("at most ", kMaxLabels, " labels")};
  }
  for (const auto& [key, value] : labels) {
    if (auto problem = LabelKeyProblem(key)) return FieldError{std::string(field), *problem};
    bool ok = value.size() <= 63;
    for (char c : value) {
      if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') ok = false;
    }
    if (!ok) {
      return FieldError{absl::StrCat(field, ".", key),
                        "label value must be 0-63 characters of A-Z a-z 0-9 . _ -"};
    }
    if (ContainsPan(value)) {
      return FieldError{absl::StrCat(field, ".", key), "must not contain a card number"};
    }
  }
  return std::nullopt;
}

std::optional<std::string> TidProblem(absl::string_view tid) {
  bool ok = tid.size() <= 16;
  for (char c : tid) ok = ok && IsAlnum(c);
  if (ok) return std::nullopt;
  return "must be at most 16 characters of A-Z a-z 0-9";
}

std::optional<std::string> IdProblem(absl::string_view id, absl::string_view prefix) {
  if (id.empty()) return "is required";
  bool ok = id.size() == prefix.size() + 21 && id.substr(0, prefix.size()) == prefix &&
            id[prefix.size()] == '_';
  for (size_t i = prefix.size() + 1; ok && i < id.size(); ++i) {
    const char c = id[i];
    ok = (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
  }
  if (ok) return std::nullopt;
  return absl::StrCat("\"", Redact(id), "\" is not a ", prefix, "_ id");
}

}  // namespace

absl::Status ToStatus(const FieldError& error, absl::string_view prefix) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, error.field, ": ", error.message));
}

absl::Status ValidateLabelKey(absl::string_view field, absl::string_view key) {
  if (auto problem = LabelKeyProblem(key)) return Invalid(field, *problem);
  return absl::OkStatus();
}

absl::Status ValidateLabels(absl::string_view field, const Labels& labels) {
  if (auto error = CheckLabels(field, labels)) return ToStatus(*error);
  return absl::OkStatus();
}

std::optional<FieldError> CheckTerminalSpec(const TerminalSpec& spec) {
  if (auto problem = IdProblem(spec.merchant_id, "mer")) return FieldError{"merchant_id", *problem};
  if (!IsCode(spec.vendor, 64)) return FieldError{"vendor", kCodeRule};
  if (!IsCode(spec.model, 64)) return FieldError{"model", kCodeRule};
  if (!IsCode(spec.serial, 64)) return FieldError{"serial", kCodeRule};
  if (auto problem = TidProblem(spec.tid)) return FieldError{"tid", *problem};
  return CheckLabels("labels", spec.labels);
}

absl::Status ValidateTid(absl::string_view field, absl::string_view tid) {
  if (auto problem = TidProblem(tid)) return Invalid(field, *problem);
  return absl::OkStatus();
}

absl::Status ValidateCountry(absl::string_view field, absl::string_view country) {
  if (country.empty()) return absl::OkStatus();
  if (country.size() != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
      country[1] > 'Z') {
    return Invalid(field, "must be an ISO 3166-1 alpha-2 code such as DE");
  }
  return absl::OkStatus();
}

absl::Status ValidateMerchant(const Merchant& m) {
  if (auto s = TextStatus("name", m.name, 200, true); !s.ok()) return s;
  if (!IsCode(m.mid, 32)) {
    return Invalid("mid", "must be 1-32 characters of A-Z a-z 0-9 . _ - starting alphanumeric");
  }
  if (ContainsPan(m.mid)) return Invalid("mid", "must not contain a card number");
  return ValidateCountry("country", m.country);
}

absl::Status ValidateTenantName(absl::string_view name) {
  return TextStatus("name", name, 100, true);
}

absl::Status ValidateTokenName(absl::string_view name) {
  return TextStatus("name", name, 100, true);
}

absl::Status ValidateReason(absl::string_view field, absl::string_view reason) {
  return TextStatus(field, reason, 500, false);
}

absl::Status ValidateId(absl::string_view field, absl::string_view id, absl::string_view prefix) {
  if (auto problem = IdProblem(id, prefix)) return Invalid(field, *problem);
  return absl::OkStatus();
}

}  // namespace posfleet::core

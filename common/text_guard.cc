#include "common/text_guard.h"

#include <unicode/utf8.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pan.h"

namespace posfleet {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsControl(UChar32 cp, bool multiline) {
  if (multiline && (cp == '\n' || cp == '\r' || cp == '\t')) return false;
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

absl::Status CheckFields(const Message& m, const std::string& prefix);

absl::Status CheckValue(const Message& m, const FieldDescriptor* f, int index,
                        const std::string& path) {
  const Reflection* r = m.GetReflection();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    if (f->type() == FieldDescriptor::TYPE_BYTES) return absl::OkStatus();
    std::string scratch;
    const std::string& text = index < 0 ? r->GetStringReference(m, f, &scratch)
                                        : r->GetRepeatedStringReference(m, f, index, &scratch);
    return CheckText(path, text, absl::EndsWith(f->name(), "_pem"));
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Message& sub = index < 0 ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, index);
    return CheckFields(sub, path + ".");
  }
  return absl::OkStatus();
}

absl::Status CheckFields(const Message& m, const std::string& prefix) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);  // only the fields that are set
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix + f->name();
    if (!f->is_repeated()) {
      if (absl::Status s = CheckValue(m, f, -1, path); !s.ok()) return s;
      continue;
    }
    const int n = r->FieldSize(m, f);
    for (int i = 0; i < n; ++i) {
      if (f->is_map()) {
        // A map entry is a message of key and value: name the entry by its key when it is
        // printable, by its position otherwise.
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        const FieldDescriptor* key = entry.GetDescriptor()->map_key();
        const FieldDescriptor* value = entry.GetDescriptor()->map_value();
        std::string key_text = absl::StrCat("#", i);
        if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          const std::string k = entry.GetReflection()->GetString(entry, key);
          if (absl::Status s = CheckText(absl::StrCat(path, " key ", key_text), k); !s.ok()) {
            return s;
          }
          key_text = k;
        }
        if (absl::Status s = CheckValue(entry, value, -1, absl::StrCat(path, "[", key_text, "]"));
            !s.ok()) {
          return s;
        }
        continue;
      }
      if (absl::Status s = CheckValue(m, f, i, absl::StrCat(path, "[", i, "]")); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckText(absl::string_view field, absl::string_view text, bool multiline) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    const int32_t at = i;
    UChar32 cp = 0;
    U8_NEXT(bytes, i, length, cp);
    if (cp < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not valid UTF-8 (at byte ", at, ")"));
    }
    if (IsControl(cp, multiline)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": control character U+",
                                                     absl::Hex(cp, absl::kZeroPad4), " at byte ",
                                                     at, " is not allowed"));
    }
  }
  if (ContainsPan(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": looks like a full card number, which posfleet never stores"));
  }
  return absl::OkStatus();
}

absl::Status CheckMessageText(const Message& message) { return CheckFields(message, ""); }

}  // namespace posfleet

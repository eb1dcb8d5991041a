#include "tools/posfleetctl/csv.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace posfleet::ctl {

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text) {
  std::vector<CsvRecord> records;
  CsvRecord current;
  std::string field;
  int line = 1;
  current.line = 1;
  bool in_quotes = false, after_quote = false, any = false;
  auto end_record = [&] {
    current.fields.push_back(std::move(field));
    field.clear();
    const bool blank = current.fields.size() == 1 && current.fields[0].empty() && !any;
    if (!blank) records.push_back(std::move(current));
    current = CsvRecord{};
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      end_record();
      after_quote = false;
      current.line = ++line;
      continue;
    }
    if (c == ',') {
      current.fields.push_back(std::move(field));
      field.clear();
      after_quote = false;
      any = true;
      continue;
    }
    if (after_quote) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": text after a closing quote"));
    }
    if (c == '"' && field.empty()) {
      in_quotes = true;
      any = true;
      continue;
    }
    field.push_back(c);
    any = true;
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", current.line, ": quoted field is never closed"));
  }
  if (!field.empty() || !current.fields.empty() || any) end_record();
  return records;
}

absl::StatusOr<ImportFile> ParseImportFile(absl::string_view text) {
  auto records = ParseCsv(text);
  if (!records.ok()) return records.status();
  if (records->empty()) return absl::InvalidArgumentError("the file is empty");
  const CsvRecord& header = records->front();
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.fields[i]));
    if (name != "vendor" && name != "model" && name != "serial" && name != "merchant_id" &&
        name != "tid" && name != "labels") {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", header.line, ": unknown column \"", name,
                       "\" (columns: vendor, model, serial, merchant_id, tid, labels)"));
    }
    if (!column.emplace(name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", header.line, ": column \"", name, "\" appears twice"));
    }
  }
  for (const char* required : {"vendor", "model", "serial", "merchant_id"}) {
    if (!column.contains(required)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", header.line, ": header needs a \"", required, "\" column"));
    }
  }
  ImportFile file;
  for (size_t r = 1; r < records->size(); ++r) {
    const CsvRecord& rec = (*records)[r];
    if (rec.fields.size() != header.fields.size()) {
      file.problems.push_back({rec.line, absl::StrCat("expected ", header.fields.size(),
                                                      " fields, found ", rec.fields.size())});
      continue;
    }
    auto get = [&](const char* name) -> std::string {
      auto it = column.find(name);
      if (it == column.end()) return "";
      return std::string(absl::StripAsciiWhitespace(rec.fields[it->second]));
    };
    ImportRow row{
        rec.line, get("merchant_id"), get("vendor"), get("model"), get("serial"), get("tid"), {}};
    bool ok = true;
    for (absl::string_view pair : absl::StrSplit(get("labels"), ';', absl::SkipWhitespace())) {
      std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      if (kv.size() != 2) {
        file.problems.push_back(
            {rec.line, absl::StrCat("labels: \"", pair.substr(0, 64), "\" is not key=value")});
        ok = false;
        break;
      }
      row.labels.emplace_back(absl::StripAsciiWhitespace(kv[0]), absl::StripAsciiWhitespace(kv[1]));
    }
    if (ok) file.rows.push_back(std::move(row));
  }
  return file;
}

}  // namespace posfleet::ctl

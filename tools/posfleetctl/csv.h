#pragma once

// RFC 4180 CSV reading for `posfleetctl terminals import`. Written by hand (about 80 lines): no
// Debian-packaged C++ CSV library fits, and the rules we need (quotes, doubled quotes, CRLF,
// line numbers for error messages) are small.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace posfleet::ctl {

struct CsvRecord {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Parses all records of `text`. Blank lines are skipped. InvalidArgument("line N: ...") for an
// unterminated quote or text after a closing quote.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(absl::string_view text);

// One terminal row of an import file, with the line it came from.
struct ImportRow {
  int line = 0;
  std::string merchant_id, vendor, model, serial, tid;
  std::vector<std::pair<std::string, std::string>> labels;
};

struct ImportProblem {
  int line = 0;
  std::string message;
};

struct ImportFile {
  std::vector<ImportRow> rows;
  std::vector<ImportProblem> problems;  // rows that could not be read; they are not in `rows`
};

// Reads an import file: a header naming the columns (vendor, model, serial, merchant_id required;
// tid and labels optional; any order), then one terminal per line. `labels` holds
// "key=value;key=value". Fails as a whole only when the header itself is unusable.
absl::StatusOr<ImportFile> ParseImportFile(absl::string_view text);

}  // namespace posfleet::ctl

#pragma once

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace posfleet::ctl {

enum class Format { kTable, kJson };

// A plain text table: a header row and left-aligned columns separated by two spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;
  size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The protobuf JSON mapping of `message`, indented: the stable output of --output json.
std::string ToJson(const google::protobuf::Message& message);

// A protobuf enum value name as users type it: EnumText("TERMINAL_STATE_ACTIVE",
// "TERMINAL_STATE_") is "active".
std::string EnumText(const std::string& name, const std::string& prefix);

// The inverse: "active" -> "TERMINAL_STATE_ACTIVE".
std::string EnumName(const std::string& text, const std::string& prefix);

// "2026-11-21 14:03:07Z", or "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& ts);

}  // namespace posfleet::ctl

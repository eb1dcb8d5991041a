#include "broker/access_rules.h"

#include <algorithm>
#include <array>

#include "common/link_topics.h"

namespace posfleet::broker {
namespace {

constexpr std::string_view kRoot = kTerminalTopicRoot;
constexpr std::string_view kSharePrefix = "$share/";
constexpr size_t kMaxIdLength = 64;
constexpr std::array<std::string_view, 6> kUplinkKinds = {
    "status", "heartbeat", "txn", "event", "config-report", "update-status"};

bool IsTerminalId(std::string_view s) {
  if (s.size() <= 4 || s.size() > kMaxIdLength || s.substr(0, 4) != "trm_") return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool HasWildcard(std::string_view s) { return s.find_first_of("+#") != std::string_view::npos; }

// The filter behind a shared subscription's "$share/<group>/", or `filter` itself when it is not
// one; false for "$share/" with no group and filter.
bool StripShare(std::string_view* filter) {
  if (!StartsWith(*filter, kSharePrefix)) return true;
  filter->remove_prefix(kSharePrefix.size());
  const size_t slash = filter->find('/');
  if (slash == std::string_view::npos) return false;
  filter->remove_prefix(slash + 1);
  return true;
}

// "posfleet/v1/t/{id}/{rest}" -> id and rest; false if `topic` is not of that shape.
bool SplitTerminalTopic(std::string_view topic, std::string_view* id, std::string_view* rest) {
  if (!StartsWith(topic, kRoot)) return false;
  topic.remove_prefix(kRoot.size());
  const size_t slash = topic.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  *id = topic.substr(0, slash);
  *rest = topic.substr(slash + 1);
  return true;
}

bool TerminalAllowed(const Identity& self, Access access, std::string_view topic) {
  std::string_view id, rest;
  switch (access) {
    case Access::kUnsubscribe:
      return true;
    case Access::kWrite:
      if (!SplitTerminalTopic(topic, &id, &rest) || id != self.name) return false;
      if (!StartsWith(rest, "up/")) return false;
      rest.remove_prefix(3);
      for (std::string_view kind : kUplinkKinds) {
        if (rest == kind) return true;
      }
      return false;
    case Access::kRead:
    case Access::kSubscribe:
      // The broadcast that a server is ready, exactly that topic (no filter reaches it).
      if (topic == kServerReadyTopic) return true;
      // A filter's wildcards may only come after the terminal's own downlink prefix, which the
      // prefix comparison guarantees: "posfleet/v1/t/{self}/down/" has none, and "$share/..."
      // does not start with it.
      if (!SplitTerminalTopic(topic, &id, &rest) || id != self.name) return false;
      return StartsWith(rest, "down/") && rest.size() > 5;
  }
  return false;
}

bool ServerAllowed(Access access, std::string_view topic) {
  std::string_view id, rest;
  switch (access) {
    case Access::kUnsubscribe:
      return true;
    case Access::kWrite:
      if (topic == kControlTopic || topic == kServerReadyTopic) return true;
      return SplitTerminalTopic(topic, &id, &rest) && !HasWildcard(id) && StartsWith(rest, "down/");
    case Access::kRead:
      return SplitTerminalTopic(topic, &id, &rest) && StartsWith(rest, "up/");
    case Access::kSubscribe:
      return StripShare(&topic) && StartsWith(topic, kRoot);
  }
  return false;
}

bool LoadGeneratorAllowed(const Identity& self, Access access, std::string_view topic) {
  std::string_view id, rest;
  const std::string own = self.name + "/";
  if (StartsWith(topic, own)) return true;
  if (access == Access::kSubscribe && StartsWith(topic, kSharePrefix)) {
    // Only a shared subscription to its own topics.
    return StripShare(&topic) && StartsWith(topic, own);
  }
  switch (access) {
    case Access::kUnsubscribe:
      return true;
    case Access::kWrite:
      return SplitTerminalTopic(topic, &id, &rest) && !HasWildcard(id) && StartsWith(rest, "up/");
    case Access::kRead:
    case Access::kSubscribe:
      return SplitTerminalTopic(topic, &id, &rest) && rest == "down/ack";
  }
  return false;
}

}  // namespace

Identity Classify(std::string_view common_name, std::string_view server_name,
                  std::string_view load_generator_name) {
  if (IsTerminalId(common_name)) return {Role::kTerminal, std::string(common_name)};
  if (!load_generator_name.empty() && common_name == load_generator_name) {
    return {Role::kLoadGenerator, std::string(common_name)};
  }
  if (!server_name.empty() && common_name == server_name) {
    return {Role::kServer, std::string(common_name)};
  }
  return {Role::kRefused, std::string(common_name)};
}

std::string CheckClientId(const Identity& identity, std::string_view client_id) {
  switch (identity.role) {
    case Role::kRefused:
      return "not a terminal or server identity";
    case Role::kTerminal:
      if (client_id == identity.name) return "";
      return "a terminal's client id must be its terminal id";
    case Role::kLoadGenerator:
    case Role::kServer:
      if (client_id == identity.name) return "";
      if (StartsWith(client_id, identity.name) && client_id.size() > identity.name.size() + 1) {
        const char next = client_id[identity.name.size()];
        if (next == '-' || next == '_') return "";
      }
      return "a server client id must start with the server name and '-' or '_'";
  }
  return "unknown identity";
}

bool Allowed(const Identity& identity, Access access, std::string_view topic) {
  switch (identity.role) {
    case Role::kTerminal:
      return TerminalAllowed(identity, access, topic);
    case Role::kServer:
      return ServerAllowed(access, topic);
    case Role::kLoadGenerator:
      return LoadGeneratorAllowed(identity, access, topic);
    case Role::kRefused:
      return false;
  }
  return false;
}

void NewestCertificates::Load(std::string_view text) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || !IsTerminalId(line.substr(0, space))) continue;
    std::string_view digits = line.substr(space + 1);
    if (digits.empty() || digits.size() > 18) continue;
    int64_t seconds = 0;
    bool ok = true;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      seconds = seconds * 10 + (c - '0');
    }
    if (!ok) continue;
    int64_t& newest = newest_[std::string(line.substr(0, space))];
    newest = std::max(newest, seconds);
  }
}

bool NewestCertificates::Admit(const std::string& terminal, int64_t not_before, std::string* line) {
  line->clear();
  auto [it, inserted] = newest_.try_emplace(terminal, not_before);
  if (!inserted) {
    if (not_before < it->second) return false;
    if (not_before == it->second) return true;
    it->second = not_before;
  }
  *line = terminal + " " + std::to_string(not_before) + "\n";
  return true;
}

std::string NewestCertificates::Dump() const {
  std::string out;
  for (const auto& [terminal, seconds] : newest_) {
    out += terminal + " " + std::to_string(seconds) + "\n";
  }
  return out;
}

ControlCommand ParseControl(std::string_view payload) {
  ControlCommand out;
  constexpr std::string_view kDisconnect = "disconnect ";
  while (!payload.empty()) {
    const size_t nl = payload.find('\n');
    std::string_view line = payload.substr(0, nl);
    payload = nl == std::string_view::npos ? std::string_view() : payload.substr(nl + 1);
    if (line.empty()) continue;
    if (!StartsWith(line, kDisconnect) || !IsTerminalId(line.substr(kDisconnect.size()))) {
      out.error = "expected lines of \"disconnect <terminal id>\"";
      out.disconnect.clear();
      return out;
    }
    out.disconnect.emplace_back(line.substr(kDisconnect.size()));
  }
  return out;
}

}  // namespace posfleet::broker

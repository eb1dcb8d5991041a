#pragma once

// The terminal link's MQTT topics (docs/link.md), built in this one place: the server, the
// agent, the simulator, the benchmarks and the broker's access rule all take them from here.
// Header-only and without absl, because the Mosquitto plugin includes it too.

#include <string>
#include <string_view>

namespace posfleet {

// Every terminal's topics are under "posfleet/v1/t/{terminal id}/".
inline constexpr std::string_view kTerminalTopicRoot = "posfleet/v1/t/";

// Uplinks (terminal -> server): "status", "heartbeat", "txn", "event", "config-report",
// "update-status". Downlinks (server -> terminal): "ack", "config", "cmd".
inline std::string UpTopic(std::string_view terminal_id, std::string_view kind) {
  std::string t(kTerminalTopicRoot);
  t.append(terminal_id).append("/up/").append(kind);
  return t;
}
inline std::string DownTopic(std::string_view terminal_id, std::string_view kind) {
  std::string t(kTerminalTopicRoot);
  t.append(terminal_id).append("/down/").append(kind);
  return t;
}

// What the servers subscribe to: every uplink of every terminal, shared among the server
// connections of group "posfleet", so each message reaches one replica.
inline constexpr std::string_view kSharedUplinks = "$share/posfleet/posfleet/v1/t/+/up/+";

// The link's one broadcast topic (server -> every terminal; v1::ServerReady): a server connection
// has just subscribed to the uplinks. The broker lets terminals read it and only the server write
// it (broker/access_rules.cc).
inline constexpr std::string_view kServerReadyTopic = "posfleet/v1/server/ready";

}  // namespace posfleet

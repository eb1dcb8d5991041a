#pragma once

#include <string_view>

namespace posfleet {

// The link's one broadcast topic (server -> every terminal; v1::ServerReady): a server connection
// has just subscribed to the uplinks. The broker lets terminals read it and only the server write
// it (broker/access_rules.cc).
inline constexpr std::string_view kServerReadyTopic = "posfleet/v1/server/ready";

}  // namespace posfleet

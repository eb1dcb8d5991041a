#pragma once

#include <cstddef>

namespace posfleet {

// The largest MQTT packet the broker accepts from any client
// (deploy/mosquitto/mosquitto.conf.in, max_packet_size): a client that sends more is
// disconnected, the server included, so the server never publishes a payload above
// kMaxDownlinkPayloadBytes.
inline constexpr size_t kMaxLinkPacketBytes = 256 * 1024;
// Room for the fixed header, the topic (posfleet/v1/t/{id}/down/{kind}) and properties.
inline constexpr size_t kMaxDownlinkPayloadBytes = kMaxLinkPacketBytes - 1024;

}  // namespace posfleet

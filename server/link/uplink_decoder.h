#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/link_reports.h"

namespace posfleet::link {

// The uplink message kinds (the last topic level under posfleet/v1/t/{id}/up/).
enum class UplinkKind { kStatus, kHeartbeat, kTxn, kEvent, kConfigReport, kUpdateStatus };
absl::string_view KindName(UplinkKind kind);  // "status", "heartbeat", ...

struct Uplink {
  UplinkKind kind = UplinkKind::kStatus;
  std::string terminal_id;
  std::optional<core::StatusReport> status;     // for kStatus
  std::optional<core::HealthReport> heartbeat;  // for kHeartbeat
};

inline constexpr size_t kMaxUplinkBytes = 64 * 1024;

// Decodes and validates one MQTT message from a terminal. Untrusted input: every failure is
// InvalidArgument("<reason>: <detail>") with reason one of topic, size, empty, payload,
// terminal_id, range, unsupported (the metric label; see RejectReason). Never echoes a card
// number.
absl::StatusOr<Uplink> DecodeUplink(absl::string_view topic, absl::string_view payload);

// The reason label of a DecodeUplink error ("topic", "payload", ...).
std::string RejectReason(const absl::Status& status);

}  // namespace posfleet::link

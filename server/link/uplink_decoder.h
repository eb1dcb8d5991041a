#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/config.h"
#include "server/core/link_reports.h"
#include "server/core/transactions.h"

namespace posfleet::link {

// The uplink message kinds (the last topic level under posfleet/v1/t/{id}/up/).
enum class UplinkKind { kStatus, kHeartbeat, kTxn, kEvent, kConfigReport, kUpdateStatus };
absl::string_view KindName(UplinkKind kind);  // "status", "heartbeat", ...

// A record of an up/txn batch that will never be accepted as it is.
struct TxnRejection {
  uint64_t seq = 0;
  std::string txn_id;  // empty when the id itself is unusable (or holds a card number)
  std::string field;
  std::string reason;
  bool card_number = false;  // quarantined: only id and field name may be logged
};

// up/txn: the batch's acceptable records (terminal_id, seq and fields set; tenant and merchant
// come from the store) and the refused ones.
struct TxnUpload {
  uint64_t batch_id = 0;
  std::vector<core::Txn> records;
  std::vector<TxnRejection> rejected;
};

struct Uplink {
  UplinkKind kind = UplinkKind::kStatus;
  std::string terminal_id;
  std::optional<core::StatusReport> status;           // for kStatus
  std::optional<core::HealthReport> heartbeat;        // for kHeartbeat
  std::optional<TxnUpload> txn;                       // for kTxn
  std::optional<core::ConfigReportIn> config_report;  // for kConfigReport
};

// What the decoder needs to know beyond the message: the range of transaction times the store
// keeps (partitions exist for it); a record outside is rejected.
struct DecodeLimits {
  absl::Time txn_earliest = absl::InfinitePast();
  absl::Time txn_latest = absl::InfiniteFuture();
};

inline constexpr int kMaxTxnsPerBatch = 1000;

inline constexpr size_t kMaxUplinkBytes = 64 * 1024;

// Decodes and validates one MQTT message from a terminal. Untrusted input: every failure is
// InvalidArgument("<reason>: <detail>") with reason one of topic, size, empty, payload, text,
// terminal_id, range, unsupported (the metric label; see RejectReason). Never echoes a card
// number.
//
// An up/txn batch is rejected as a whole only when it cannot be read (payload, terminal_id,
// range of batch_id or record count); single bad records become TxnRejections.
absl::StatusOr<Uplink> DecodeUplink(absl::string_view topic, absl::string_view payload,
                                    const DecodeLimits& limits = {});

// The reason label of a DecodeUplink error ("topic", "payload", ...).
std::string RejectReason(const absl::Status& status);

}  // namespace posfleet::link

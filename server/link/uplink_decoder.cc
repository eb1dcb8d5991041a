#include "server/link/uplink_decoder.h"

#include <array>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/name_table.h"
#include "common/pan.h"
#include "common/status_macros.h"
#include "common/text_guard.h"
#include "common/txn_record.h"
#include "posfleet/v1/link.pb.h"
#include "server/core/validation.h"

namespace posfleet::link {
namespace {

constexpr NameTable<UplinkKind, 6> kKinds = {{
    {UplinkKind::kStatus, "status"},
    {UplinkKind::kHeartbeat, "heartbeat"},
    {UplinkKind::kTxn, "txn"},
    {UplinkKind::kEvent, "event"},
    {UplinkKind::kConfigReport, "config-report"},
    {UplinkKind::kUpdateStatus, "update-status"},
}};

absl::Status Reject(absl::string_view reason, absl::string_view detail) {
  return absl::InvalidArgumentError(absl::StrCat(reason, ": ", detail));
}

// Parses an uplink payload as `Msg` and checks that it names the topic's terminal.
template <typename Msg>
absl::Status ParseOwn(absl::string_view payload, const std::string& terminal_id,
                      absl::string_view name, Msg* out) {
  if (!out->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Reject("payload", absl::StrCat("not a ", name, " message"));
  }
  if (out->terminal_id() != terminal_id) {
    return Reject("terminal_id", "payload names another terminal than the topic");
  }
  return absl::OkStatus();
}

// The text rule for a whole message (common/text_guard.h), for the kinds that carry no free
// text of their own to redact.
absl::Status GuardText(const google::protobuf::Message& m) {
  if (absl::Status s = CheckMessageText(m); !s.ok()) return Reject("text", s.message());
  return absl::OkStatus();
}

// Text of a payload that passed GuardText, within `max_len` (versions, network names, agent
// version).
bool ShortText(absl::string_view s, size_t max_len) { return s.size() <= max_len; }

absl::string_view PaperName(v1::Heartbeat::Paper paper) {
  switch (paper) {
    case v1::Heartbeat::PAPER_OK:
      return "ok";
    case v1::Heartbeat::PAPER_LOW:
      return "low";
    case v1::Heartbeat::PAPER_OUT:
      return "out";
    case v1::Heartbeat::PAPER_NO_PRINTER:
      return "none";
    default:
      return "";
  }
}

absl::StatusOr<core::HealthReport> DecodeHeartbeat(const v1::Heartbeat& hb) {
  core::HealthReport r;
  r.terminal_id = hb.terminal_id();
  r.session = static_cast<int64_t>(hb.session());
  core::Health& h = r.health;
  if (hb.battery_percent() < -1 || hb.battery_percent() > 100) {
    return Reject("range", "battery_percent must be -1 to 100");
  }
  if (hb.temperature_c() < -60 || hb.temperature_c() > 150) {
    return Reject("range", "temperature_c must be -60 to 150");
  }
  if (hb.signal_dbm() < -200 || hb.signal_dbm() > 0) {
    return Reject("range", "signal_dbm must be -200 to 0");
  }
  if (hb.storage_free_bytes() > (1ULL << 50) || hb.uptime_seconds() > (1ULL << 40)) {
    return Reject("range", "storage_free_bytes or uptime_seconds out of range");
  }
  if (!ShortText(hb.network(), 32)) return Reject("range", "network must be short plain text");
  if (hb.versions_size() > 16) return Reject("range", "at most 16 versions");
  for (const auto& [component, version] : hb.versions()) {
    if (component.empty() || !ShortText(component, 64) || !ShortText(version, 64)) {
      return Reject("range", "versions must be short plain text");
    }
    h.versions[component] = version;
  }
  h.battery_percent = hb.battery_percent();
  h.charging = hb.charging();
  h.temperature_c = hb.temperature_c();
  h.paper = std::string(PaperName(hb.paper()));
  h.signal_dbm = hb.signal_dbm();
  h.network = hb.network();
  h.storage_free_bytes = static_cast<int64_t>(hb.storage_free_bytes());
  h.uptime_seconds = static_cast<int64_t>(hb.uptime_seconds());
  return r;
}

core::Txn TxnFrom(const std::string& terminal_id, const v1::TxnRecord& r) {
  core::Txn t;
  t.terminal_id = terminal_id;
  t.txn_id = r.txn_id();
  t.seq = static_cast<int64_t>(r.seq());
  t.time = TxnTime(r);
  t.type = r.type();
  t.result = r.result();
  t.amount_minor = r.amount_minor();
  t.currency = r.currency();
  t.response_code = r.response_code();
  t.scheme = r.scheme();
  t.entry_mode = r.entry_mode();
  t.masked_pan = r.masked_pan();
  t.stan = r.stan();
  t.auth_code = r.auth_code();
  t.mid = r.mid();
  t.tid = r.tid();
  return t;
}

absl::StatusOr<TxnUpload> DecodeTxnBatch(const v1::TxnBatch& batch, const DecodeLimits& limits) {
  if (batch.batch_id() == 0) return Reject("range", "batch_id must be set");
  if (batch.records_size() == 0 || batch.records_size() > kMaxTxnsPerBatch) {
    return Reject("range", "a batch holds 1 to 1000 records");
  }
  TxnUpload upload;
  upload.batch_id = batch.batch_id();
  absl::flat_hash_set<uint64_t> seqs;
  for (const v1::TxnRecord& r : batch.records()) {
    if (r.seq() == 0 || r.seq() > (1ULL << 62) || !seqs.insert(r.seq()).second) {
      // Without a usable seq the record cannot be acknowledged or rejected; it is dropped and the
      // agent, which never sends such a record, would send it again.
      return Reject("range", "every record needs its own seq, 1 to 2^62");
    }
    std::optional<TxnProblem> problem = CheckTxnRecord(r);
    if (!problem) problem = CheckTxnTime(r, limits.txn_earliest, limits.txn_latest);
    if (problem) {
      TxnRejection rej;
      rej.seq = r.seq();
      // The id goes back (and into logs) only if it is a proper id itself.
      if (ValidTxnId(r.txn_id())) rej.txn_id = r.txn_id();
      rej.field = problem->field;
      rej.reason = problem->reason;
      rej.card_number = problem->card_number;
      upload.rejected.push_back(std::move(rej));
      continue;
    }
    upload.records.push_back(TxnFrom(batch.terminal_id(), r));
  }
  return upload;
}

}  // namespace

absl::string_view KindName(UplinkKind kind) { return NameIn(kKinds, kind).value_or("unknown"); }

std::string RejectReason(const absl::Status& status) {
  absl::string_view message = status.message();
  return std::string(message.substr(0, message.find(':')));
}

absl::StatusOr<Uplink> DecodeUplink(absl::string_view topic, absl::string_view payload,
                                    const DecodeLimits& limits) {
  std::vector<absl::string_view> parts = absl::StrSplit(topic, '/');
  if (parts.size() != 6 || parts[0] != "posfleet" || parts[1] != "v1" || parts[2] != "t" ||
      parts[4] != "up") {
    return Reject("topic", "expected posfleet/v1/t/{terminal_id}/up/{kind}");
  }
  Uplink up;
  if (!core::ValidateId("terminal_id", parts[3], "trm").ok()) {
    return Reject("topic", "not a terminal id");
  }
  up.terminal_id = std::string(parts[3]);
  std::optional<UplinkKind> kind = ValueIn(kKinds, parts[5]);
  if (!kind) return Reject("topic", "unknown message kind");
  up.kind = *kind;
  if (payload.size() > kMaxUplinkBytes) return Reject("size", "payload larger than 64 KiB");
  // An empty payload clears a retained message; there is nothing to apply.
  if (payload.empty()) return Reject("empty", "empty payload");

  switch (up.kind) {
    case UplinkKind::kStatus: {
      v1::Status s;
      RETURN_IF_ERROR(ParseOwn(payload, up.terminal_id, "Status", &s));
      RETURN_IF_ERROR(GuardText(s));
      if (s.session() == 0 || s.session() > (1ULL << 62)) return Reject("range", "session");
      if (!ShortText(s.agent_version(), 32)) return Reject("range", "agent_version");
      up.status = core::StatusReport{up.terminal_id, s.online(), static_cast<int64_t>(s.session()),
                                     s.agent_version()};
      return up;
    }
    case UplinkKind::kHeartbeat: {
      v1::Heartbeat hb;
      RETURN_IF_ERROR(ParseOwn(payload, up.terminal_id, "Heartbeat", &hb));
      RETURN_IF_ERROR(GuardText(hb));
      if (hb.session() == 0 || hb.session() > (1ULL << 62)) return Reject("range", "session");
      absl::StatusOr<core::HealthReport> report = DecodeHeartbeat(hb);
      if (!report.ok()) return report.status();
      up.heartbeat = *std::move(report);
      return up;
    }
    case UplinkKind::kTxn: {
      v1::TxnBatch batch;
      RETURN_IF_ERROR(ParseOwn(payload, up.terminal_id, "TxnBatch", &batch));
      ASSIGN_OR_RETURN(TxnUpload upload, DecodeTxnBatch(batch, limits));
      up.txn = std::move(upload);
      return up;
    }
    case UplinkKind::kConfigReport: {
      v1::ConfigReport r;
      RETURN_IF_ERROR(ParseOwn(payload, up.terminal_id, "ConfigReport", &r));
      // A refusal may name no revision or hash: the agent reports a payload it could not read
      // as a set too, so that the server publishes again.
      if ((r.applied() && r.revision() == 0) || r.revision() > (1ULL << 62)) {
        return Reject("range", "revision");
      }
      if (!IsSha256Hex(r.hash()) && (r.applied() || !r.hash().empty())) {
        return Reject("range", "hash: 64 lowercase hex digits");
      }
      if (!r.applied() && r.error().empty()) return Reject("range", "error: a rejection says why");
      core::ConfigReportIn in;
      in.terminal_id = up.terminal_id;
      in.revision = static_cast<int64_t>(r.revision());
      in.hash = r.hash();
      in.applied = r.applied();
      // Free text from the terminal: cut, and never a card number.
      in.error = Redact(r.error(), 300);
      up.config_report = std::move(in);
      return up;
    }
    default:
      // Events and update reports arrive with later issues.
      return Reject("unsupported", KindName(up.kind));
  }
}

}  // namespace posfleet::link

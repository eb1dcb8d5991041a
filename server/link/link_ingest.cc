#include "server/link/link_ingest.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace posfleet::link {
namespace {

constexpr char kMetric[] = "posfleet_link_messages_total";

}  // namespace

LinkIngest::LinkIngest(core::Store& store, Counters& counters, Env& env, LinkIngestOptions options)
    : counters_(counters),
      env_(env),
      txn_retention_months_(options.txn_retention_months),
      presence_(store, store, counters, env, options.presence),
      txns_(store, counters, env, options.txn,
            [this](const std::string& topic, const std::string& payload) {
              return broker_.Publish(topic, payload);
            }),
      broker_(counters, std::move(options.broker),
              [this](const std::string& topic, const std::string& payload) {
                Accept(topic, payload);
              }) {}

LinkIngest::~LinkIngest() { Stop(); }

absl::Status LinkIngest::Start() {
  RETURN_IF_ERROR(broker_.Start());
  presence_.Start();
  txns_.Start();
  return absl::OkStatus();
}

void LinkIngest::Stop() {
  txns_.Stop();  // its last acks still go out
  broker_.Stop();
  presence_.Stop();
}

DecodeLimits LinkIngest::Limits() const {
  const absl::Time now = env_.Now();
  const absl::CivilMonth month(absl::ToCivilDay(now, absl::UTCTimeZone()));
  DecodeLimits limits;
  limits.txn_earliest = absl::FromCivil(month - (txn_retention_months_ - 1), absl::UTCTimeZone());
  limits.txn_latest = now + absl::Hours(24);
  return limits;
}

void LinkIngest::Accept(const std::string& topic, const std::string& payload) {
  absl::StatusOr<Uplink> up = DecodeUplink(topic, payload, Limits());
  if (!up.ok()) {
    const std::string reason = RejectReason(up.status());
    const size_t last = topic.rfind('/');
    const std::string kind = reason == "topic" ? "unknown" : topic.substr(last + 1);
    counters_.Add(kMetric, absl::StrCat("kind=\"", kind, "\",result=\"", reason, "\""));
    spdlog::debug("link: dropped a message on {}: {}", topic.substr(0, 128), up.status().message());
    return;
  }
  counters_.Add(kMetric, absl::StrCat("kind=\"", KindName(up->kind), "\",result=\"ok\""));
  if (up->txn) {
    txns_.Queue(up->terminal_id, *std::move(up->txn));
    return;
  }
  presence_.Queue(std::move(up->status), std::move(up->heartbeat), std::move(up->config_report));
}

}  // namespace posfleet::link

#include "server/link/presence_ingest.h"

#include <utility>

#include "common/logging.h"

namespace posfleet::link {

PresenceIngest::PresenceIngest(core::PresenceRepository& presence, core::ConfigRepository& config,
                               Counters& counters, Env& env, PresenceIngestOptions options)
    : presence_(presence),
      config_(config),
      counters_(counters),
      env_(env),
      options_(std::move(options)) {}

PresenceIngest::~PresenceIngest() { Stop(); }

void PresenceIngest::Start() { loop_.Start(); }

void PresenceIngest::Stop() {
  loop_.Stop();
  (void)Flush();
}

void PresenceIngest::FlushLogged() {
  if (absl::Status s = Flush(); !s.ok()) {
    spdlog::warn("link: presence not written yet: {}", s.ToString());
  }
}

void PresenceIngest::Queue(std::optional<core::StatusReport> status,
                           std::optional<core::HealthReport> heartbeat,
                           std::optional<core::ConfigReportIn> config_report) {
  absl::MutexLock lock(&mu_);
  if (config_report) config_reports_.push_back(*std::move(config_report));
  if (status) statuses_.push_back(*std::move(status));
  if (heartbeat) heartbeats_.push_back(*std::move(heartbeat));
  // Bounded memory while the database is slow or down: the oldest heartbeats go first (a newer
  // one from the same terminal supersedes them anyway); statuses are kept.
  if (heartbeats_.size() > options_.max_pending) {
    const size_t drop = heartbeats_.size() - options_.max_pending;
    heartbeats_.erase(heartbeats_.begin(), heartbeats_.begin() + static_cast<long>(drop));
    counters_.Add("posfleet_link_heartbeats_dropped_total", "", static_cast<int64_t>(drop));
  }
}

absl::Status PresenceIngest::FlushConfigReports(std::vector<core::ConfigReportIn> reports) {
  if (reports.empty()) return absl::OkStatus();
  absl::Status s = config_.ApplyConfigReports(reports);
  if (s.ok()) {
    counters_.Add("posfleet_config_reports_applied_total", "",
                  static_cast<int64_t>(reports.size()));
    return s;
  }
  if (absl::IsUnavailable(s) || absl::IsAborted(s)) {
    // The database is away: keep them for the next flush.
    absl::MutexLock lock(&mu_);
    config_reports_.insert(config_reports_.begin(), reports.begin(), reports.end());
    return s;
  }
  // Anything else would fail again: dropped, so presence is not held up behind them. The
  // terminal reports again at its next connect (the retained set comes again).
  counters_.Add("posfleet_config_reports_dropped_total", "", static_cast<int64_t>(reports.size()));
  spdlog::error("link: {} config reports dropped: {}", reports.size(), s.ToString());
  return absl::OkStatus();
}

absl::Status PresenceIngest::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<core::StatusReport> statuses;
  std::vector<core::HealthReport> heartbeats;
  std::vector<core::ConfigReportIn> config_reports;
  {
    absl::MutexLock lock(&mu_);
    statuses.swap(statuses_);
    heartbeats.swap(heartbeats_);
    config_reports.swap(config_reports_);
  }
  // While the database is away, presence waits with the config reports: neither is lost.
  const absl::Status reports = FlushConfigReports(std::move(config_reports));
  absl::StatusOr<core::HistoryWritten> written =
      reports.ok() ? presence_.ApplyLinkReports(statuses, heartbeats, options_.history_every)
                   : absl::StatusOr<core::HistoryWritten>(reports);
  if (written.ok()) {
    if (!heartbeats.empty()) {
      counters_.Add("posfleet_link_heartbeats_applied_total", "",
                    static_cast<int64_t>(heartbeats.size()));
    }
    if (written->samples > 0) {
      counters_.Add("posfleet_health_history_samples_total", "", written->samples);
    }
    if (written->failed) counters_.Add("posfleet_health_history_failures_total", "");
    if (written->refused_inactive > 0) {
      counters_.Add("posfleet_link_refused_total", "reason=\"inactive\"",
                    written->refused_inactive);
    }
    return absl::OkStatus();
  }
  // Put them back in front of whatever arrived meanwhile; the next flush tries again.
  absl::MutexLock lock(&mu_);
  statuses.insert(statuses.end(), statuses_.begin(), statuses_.end());
  heartbeats.insert(heartbeats.end(), heartbeats_.begin(), heartbeats_.end());
  statuses_.swap(statuses);
  heartbeats_.swap(heartbeats);
  return written.status();
}

}  // namespace posfleet::link

#include "server/jobs/offline_detector.h"

#include "common/logging.h"

namespace posfleet::jobs {

absl::StatusOr<int> OfflineDetector::RunOnce() {
  absl::StatusOr<int> silent = presence_.MarkSilentOffline(options_.timeout);
  if (!silent.ok()) return silent.status();
  if (*silent > 0) {
    counters_.Add("posfleet_link_silent_offline_total", "", *silent);
    spdlog::info("link: {} terminal(s) silent for {}: offline", *silent,
                 absl::FormatDuration(options_.timeout));
  }
  return silent;
}

void OfflineDetector::RunLogged() {
  if (absl::StatusOr<int> n = RunOnce(); !n.ok()) {
    spdlog::warn("offline detector: {} (next sweep in {})", n.status().ToString(),
                 absl::FormatDuration(options_.interval));
  }
}

void OfflineDetector::Start() { loop_.Start(); }

void OfflineDetector::Stop() { loop_.Stop(); }

}  // namespace posfleet::jobs

#include "server/core/failure_tally.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/pan.h"

namespace posfleet::core {

namespace {
constexpr char kOtherSources[] = "other sources";
}  // namespace

void FailureTally::Add(absl::string_view method, absl::string_view source,
                       const absl::Status& status) {
  const absl::Time now = env_.Now();
  std::map<Key, Count> ended;
  absl::Time ended_start;
  {
    absl::MutexLock lock(&mu_);
    ended = TakeEnded(now, /*everything=*/false, &ended_start);
    if (window_start_ == absl::InfinitePast()) window_start_ = now;
    Key key{std::string(method), Redact(source, 80)};
    if (counts_.size() >= options_.max_sources && counts_.find(key) == counts_.end()) {
      key.second = kOtherSources;
    }
    Count& c = counts_[key];
    ++c.total;
    ++c.by_code[absl::StatusCodeToString(status.code())];
  }
  if (!ended.empty()) Write(ended, ended_start);
}

void FailureTally::Flush(bool everything) {
  std::map<Key, Count> ended;
  absl::Time start;
  {
    absl::MutexLock lock(&mu_);
    ended = TakeEnded(env_.Now(), everything, &start);
  }
  if (!ended.empty()) Write(ended, start);
}

std::map<FailureTally::Key, FailureTally::Count> FailureTally::TakeEnded(absl::Time now,
                                                                         bool everything,
                                                                         absl::Time* window_start) {
  *window_start = window_start_;
  if (counts_.empty() || (!everything && now < window_start_ + options_.window)) return {};
  std::map<Key, Count> out;
  out.swap(counts_);
  window_start_ = absl::InfinitePast();
  return out;
}

void FailureTally::Write(const std::map<Key, Count>& counts, absl::Time window_start) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  for (const auto& [key, count] : counts) {
    AuditEntry e;
    e.actor_name = "unauthenticated callers";
    e.role = Role::kTerminal;
    e.method = key.first;
    e.target_type = "terminal";
    e.result = count.by_code.size() == 1 ? count.by_code.begin()->first : "REFUSED";
    std::string why;
    for (const auto& [code, n] : count.by_code)
      absl::StrAppend(&why, why.empty() ? "" : ", ", n, " ", code);
    e.summary =
        absl::StrCat(count.total, " refused call(s) naming no terminal from ", key.second,
                     " in the ", absl::FormatDuration(options_.window), " from ",
                     absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", window_start, utc), ": ", why);
    if (absl::Status s = store_.AppendAudit(e); !s.ok()) {
      spdlog::warn("audit: could not record {} refused {} call(s): {}", count.total, key.first,
                   s.ToString());
    }
  }
}

}  // namespace posfleet::core

#include "server/core/terminal_watch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace posfleet::core {
namespace {

constexpr size_t kReadChunk = 1000;
// Past this many pending ids a watcher stops collecting them and compares everything instead.
constexpr size_t kMaxPending = 50000;
// A watch with this many events not yet taken gets nothing more read until it has fewer.
constexpr size_t kMaxQueued = 1000;
// How long the hub sleeps when no watch has work, unless nudged (a change, a new watch).
constexpr absl::Duration kIdleTurn = absl::Milliseconds(50);

}  // namespace

uint64_t WatchFingerprint(const Terminal& t) {
  std::string text = absl::StrCat(StateName(t.state), "|");
  if (t.presence) {
    const Presence& p = *t.presence;
    absl::StrAppend(&text, p.online, "|", p.session, "|", p.agent_version, "|");
    if (p.health) {
      const Health& h = *p.health;
      absl::StrAppend(&text, h.battery_percent, "|", h.charging, "|", h.temperature_c, "|", h.paper,
                      "|", h.signal_dbm, "|", h.network, "|", h.storage_free_bytes, "|");
      for (const auto& [k, v] : h.versions) absl::StrAppend(&text, k, "=", v, ";");
    }
  }
  return Fingerprint64(text);
}

std::optional<WatchEvent> WatchStream::Next() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  WatchEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool WatchStream::Finished(absl::Status* status) {
  absl::MutexLock lock(&mu_);
  if (!end_ || !queue_.empty()) return false;
  *status = *end_;
  return true;
}

void WatchStream::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

void WatchStream::Push(WatchEvent event) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(event));
}

void WatchStream::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (!end_) end_ = std::move(status);
  queue_.clear();  // an error ends the stream now; what is queued would only delay it
}

size_t WatchStream::queued() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

TerminalWatch::TerminalWatch(TerminalRegistry& registry, TerminalRepository& store,
                             ChangeFeed& feed, Env& env)
    : registry_(registry), store_(store), feed_(feed), env_(env), hub_([this] { Loop(); }) {}

TerminalWatch::~TerminalWatch() { Stop(); }

absl::StatusOr<std::shared_ptr<WatchStream>> TerminalWatch::Open(
    const Actor& actor, const TerminalQuery& query, const WatchOptions& options,
    std::function<void()> wake, std::function<absl::Status()> still_allowed) {
  ASSIGN_OR_RETURN(TerminalFilter filter,
                   registry_.FilterFor(actor, Method::kWatchTerminals, query));
  auto w = std::make_shared<WatchStream>();
  w->actor_ = actor;
  w->filter_ = std::move(filter);
  w->options_ = options;
  w->wake_ = std::move(wake);
  w->still_allowed_ = std::move(still_allowed);
  w->checked_ = env_.Now();
  // Before the snapshot is read, so that nothing committed in between is missed.
  std::weak_ptr<WatchStream> weak = w;
  w->feed_handle_ = feed_.Subscribe([weak, env = &env_](const std::vector<std::string>& ids) {
    std::shared_ptr<WatchStream> s = weak.lock();
    if (!s) return;
    {
      absl::MutexLock lock(&s->mu_);
      WatchStream::Pending& p = s->pending_;
      if (p.since == absl::InfiniteFuture()) p.since = env->Now();
      if (ids.empty() || p.everything || p.ids.size() + ids.size() > kMaxPending) {
        p.everything = true;
        p.ids.clear();
      } else {
        p.ids.insert(ids.begin(), ids.end());
      }
    }
  });
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    feed_.Unsubscribe(w->feed_handle_);
    return absl::UnavailableError("the server is stopping");
  }
  watches_.push_back(w);
  nudged_ = true;
  return w;
}

void TerminalWatch::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  hub_.join();
}

size_t TerminalWatch::open() {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

absl::StatusOr<std::optional<int64_t>> TerminalWatch::Compare(WatchStream& w,
                                                              const TerminalFilter& f,
                                                              int64_t after, WatchEventKind kind) {
  ASSIGN_OR_RETURN(Slice<Terminal> slice,
                   store_.ListTerminals(f, Window{after, static_cast<int>(kReadChunk)}));
  for (Terminal& t : slice.items) {
    const uint64_t fp = WatchFingerprint(t);
    auto [it, inserted] = w.sent_.emplace(t.id, fp);
    if (!inserted && it->second == fp) continue;
    it->second = fp;
    if (kind == WatchEventKind::kSnapshot && !w.options_.snapshot) continue;
    w.Push(WatchEvent{kind, std::move(t)});
  }
  if (!slice.more) return std::optional<int64_t>();
  return std::optional<int64_t>(slice.last);
}

bool TerminalWatch::Step(WatchStream& w) {
  const absl::Time now = env_.Now();
  if (now - w.checked_ >= w.options_.recheck) {
    w.checked_ = now;
    if (absl::Status s = w.still_allowed_(); !s.ok()) {
      w.End(s);
      return true;
    }
  }
  if (w.queued() >= kMaxQueued) return false;  // the receiver is behind: read nothing more yet
  absl::Status failed;
  if (!w.synced_) {
    absl::StatusOr<std::optional<int64_t>> next =
        Compare(w, w.filter_, w.snapshot_after_, WatchEventKind::kSnapshot);
    if (!next.ok()) {
      w.End(next.status());
      return true;
    }
    if (*next) {
      w.snapshot_after_ = **next;
    } else {
      w.synced_ = true;
      w.Push(WatchEvent{WatchEventKind::kSynced, std::nullopt});
    }
    return true;
  }
  std::vector<std::string> ids;
  bool everything = false;
  {
    absl::MutexLock lock(&w.mu_);
    WatchStream::Pending& p = w.pending_;
    if (p.since == absl::InfiniteFuture() || now - p.since < w.options_.coalesce) return false;
    everything = p.everything;
    // A chunk at a time, so that one watch's burst does not hold up the others.
    auto end = p.ids.begin();
    for (size_t n = 0; end != p.ids.end() && n < kReadChunk; ++n) ++end;
    ids.assign(p.ids.begin(), end);
    p.ids.erase(p.ids.begin(), end);
    if (everything || p.ids.empty()) {
      p.everything = false;
      p.ids.clear();
      p.since = absl::InfiniteFuture();
    }
  }
  TerminalFilter f = w.filter_;
  if (everything) {
    int64_t after = 0;
    for (;;) {
      absl::StatusOr<std::optional<int64_t>> next = Compare(w, f, after, WatchEventKind::kChanged);
      if (!next.ok()) {
        w.End(next.status());
        return true;
      }
      if (!*next) break;
      after = **next;
    }
  } else {
    f.ids = std::move(ids);
    absl::StatusOr<std::optional<int64_t>> next = Compare(w, f, 0, WatchEventKind::kChanged);
    if (!next.ok()) w.End(next.status());
  }
  return true;
}

void TerminalWatch::Loop() {
  for (;;) {
    std::vector<std::shared_ptr<WatchStream>> watches;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      watches = watches_;
      nudged_ = false;
    }
    bool busy = false;
    std::vector<std::shared_ptr<WatchStream>> ended;
    for (const std::shared_ptr<WatchStream>& w : watches) {
      bool cancelled = false;
      {
        absl::MutexLock lock(&w->mu_);
        cancelled = w->cancelled_;
      }
      bool worked = false;
      if (stopping || cancelled) {
        w->End(absl::OkStatus());
        worked = true;
      } else {
        worked = Step(*w);
      }
      busy |= worked;
      bool over = false;
      {
        absl::MutexLock lock(&w->mu_);
        over = w->end_.has_value();
      }
      if (over) ended.push_back(w);
      // The receiver takes what this turn queued (or the end) on its own thread.
      if (worked) w->wake_();
    }
    // Outside the hub's lock: the feed's callbacks take it.
    for (const std::shared_ptr<WatchStream>& w : ended) feed_.Unsubscribe(w->feed_handle_);
    absl::MutexLock lock(&mu_);
    watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                  [&](const std::shared_ptr<WatchStream>& w) {
                                    return std::find(ended.begin(), ended.end(), w) != ended.end();
                                  }),
                   watches_.end());
    if (stopping && watches_.empty()) return;
    if (!busy) {
      // Changes wait out their coalescing anyway, so only a new watch or Stop cuts this short.
      auto nudged = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return nudged_ || stopping_; };
      env_.AwaitWithTimeout(mu_, absl::Condition(&nudged), kIdleTurn);
    }
  }
}

}  // namespace posfleet::core

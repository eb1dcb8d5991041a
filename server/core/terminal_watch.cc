#include "server/core/terminal_watch.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/status_macros.h"

namespace posfleet::core {
namespace {

constexpr size_t kReadChunk = 1000;
// Past this many pending ids a watcher stops collecting them and compares everything instead.
constexpr size_t kMaxPending = 50000;

// Filled by the feed's thread, drained by the watch.
struct Pending {
  absl::Mutex mu;
  std::set<std::string> ids ABSL_GUARDED_BY(mu);
  bool everything ABSL_GUARDED_BY(mu) = false;
};

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

absl::Status TerminalWatch::Run(const Actor& actor, const TerminalQuery& query,
                                const WatchOptions& options, const Sink& send,
                                const std::function<bool()>& cancelled,
                                const std::function<absl::Status()>& still_allowed) {
  ASSIGN_OR_RETURN(const TerminalFilter filter,
                   registry_.FilterFor(actor, Method::kWatchTerminals, query));
  Pending pending;
  const int handle = feed_.Subscribe([&pending](const std::vector<std::string>& ids) {
    absl::MutexLock lock(&pending.mu);
    if (ids.empty() || pending.everything || pending.ids.size() + ids.size() > kMaxPending) {
      pending.everything = true;
      pending.ids.clear();
      return;
    }
    pending.ids.insert(ids.begin(), ids.end());
  });
  struct Unsubscribe {
    ChangeFeed& feed;
    int handle;
    ~Unsubscribe() { feed.Unsubscribe(handle); }
  } unsubscribe{feed_, handle};

  std::unordered_map<std::string, uint64_t> sent;
  bool receiver_gone = false;
  // Reads the filter (narrowed to `ids` if given) and sends what differs from `sent`.
  auto compare = [&](const std::optional<std::vector<std::string>>& ids,
                     WatchEventKind kind) -> absl::Status {
    TerminalFilter f = filter;
    f.ids = ids;
    Window window{0, static_cast<int>(kReadChunk)};
    while (true) {
      ASSIGN_OR_RETURN(Slice<Terminal> slice, store_.ListTerminals(f, window));
      for (const Terminal& t : slice.items) {
        const uint64_t fp = WatchFingerprint(t);
        auto [it, inserted] = sent.emplace(t.id, fp);
        if (!inserted && it->second == fp) continue;
        it->second = fp;
        if (kind == WatchEventKind::kSnapshot && !options.snapshot) continue;
        if (!send(kind, &t)) {
          receiver_gone = true;
          return absl::OkStatus();
        }
      }
      if (!slice.more) return absl::OkStatus();
      window.after = slice.last;
    }
  };

  RETURN_IF_ERROR(compare(std::nullopt, WatchEventKind::kSnapshot));
  if (receiver_gone || !send(WatchEventKind::kSynced, nullptr)) return absl::OkStatus();

  absl::Time checked = absl::Now();
  while (!cancelled()) {
    if (absl::Now() - checked >= options.recheck) {
      RETURN_IF_ERROR(still_allowed());
      checked = absl::Now();
    }
    std::vector<std::string> ids;
    bool everything = false;
    {
      absl::MutexLock lock(&pending.mu);
      auto any = [&pending]() ABSL_SHARED_LOCKS_REQUIRED(pending.mu) {
        return pending.everything || !pending.ids.empty();
      };
      if (!pending.mu.AwaitWithTimeout(absl::Condition(&any), options.poll)) continue;
    }
    absl::SleepFor(options.coalesce);  // let a burst of changes gather
    {
      absl::MutexLock lock(&pending.mu);
      everything = pending.everything;
      ids.assign(pending.ids.begin(), pending.ids.end());
      pending.ids.clear();
      pending.everything = false;
    }
    if (everything) {
      RETURN_IF_ERROR(compare(std::nullopt, WatchEventKind::kChanged));
    } else {
      for (size_t i = 0; i < ids.size() && !receiver_gone; i += kReadChunk) {
        const size_t end = std::min(ids.size(), i + kReadChunk);
        RETURN_IF_ERROR(compare(std::vector<std::string>(ids.begin() + static_cast<long>(i),
                                                         ids.begin() + static_cast<long>(end)),
                                WatchEventKind::kChanged));
      }
    }
    if (receiver_gone) return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace posfleet::core

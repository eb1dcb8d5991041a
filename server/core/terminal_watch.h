#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "server/core/change_feed.h"
#include "server/core/repositories/terminals.h"
#include "server/core/terminal_registry.h"

namespace posfleet::core {

enum class WatchEventKind { kSnapshot, kSynced, kChanged };

struct WatchOptions {
  bool snapshot = true;  // send every matching terminal first
  // Changes are gathered this long before they are read back, so a burst is one query.
  absl::Duration coalesce = absl::Milliseconds(100);
  // How often the caller's credentials are checked again (`still_allowed`): a watch must not
  // outlive a revoked token or a deleted tenant by more than this.
  absl::Duration recheck = absl::Seconds(2);
};

struct WatchEvent {
  WatchEventKind kind;
  std::optional<Terminal> terminal;  // none for kSynced
};

// One open watch: what the hub has read and the receiver has not taken yet, then its end.
class WatchStream {
 public:
  // The next event to send, if one is ready.
  std::optional<WatchEvent> Next();
  // True once every event has been taken and the watch has ended; `status` says how (OK: the
  // receiver left or the server stops; else the token was revoked, or a store error).
  bool Finished(absl::Status* status);
  // The receiver is gone: the hub drops the watch at its next turn.
  void Cancel();

 private:
  friend class TerminalWatch;
  // Filled by the change feed's thread, drained by the hub.
  struct Pending {
    std::set<std::string> ids;
    bool everything = false;
    absl::Time since = absl::InfiniteFuture();  // when the oldest pending change arrived
  };
  void Push(WatchEvent event);
  void End(absl::Status status);
  size_t queued();

  Actor actor_;
  TerminalFilter filter_;
  WatchOptions options_;
  std::function<void()> wake_;
  std::function<absl::Status()> still_allowed_;
  int feed_handle_ = -1;

  // The hub's own (only its thread touches them).
  bool synced_ = false;
  int64_t snapshot_after_ = 0;  // the snapshot's cursor
  std::unordered_map<std::string, uint64_t> sent_;
  absl::Time checked_;

  absl::Mutex mu_;
  std::deque<WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  Pending pending_ ABSL_GUARDED_BY(mu_);
};

// WatchTerminals: the terminals a query matches, then every change of their presence or health.
//
// Every open watch is served by one hub thread, not a thread each: at each turn it reads the next
// chunk of a watch's snapshot, or the terminals its pending changes name (gathered for
// options.coalesce so that a burst is one query), through the watch's filter, and queues what a
// person would see differ (presence, session, agent version and health other than uptime) for
// the receiver, who is woken. A watch whose receiver has not taken 1,000 events gets nothing more
// read until it has, so a slow reader costs a bounded queue, not memory without end. It subscribes
// to the change feed before reading the snapshot, so nothing committed in between is missed.
// Memory per watch: one fingerprint per matching terminal.
class TerminalWatch {
 public:
  TerminalWatch(TerminalRegistry& registry, TerminalRepository& store, ChangeFeed& feed, Env& env);
  ~TerminalWatch();

  // Checks the query (its errors are returned at once) and opens a watch. `wake` is called, on
  // the hub's thread and without any lock of the watch held, whenever events or the end are
  // ready; `still_allowed` is asked every options.recheck.
  absl::StatusOr<std::shared_ptr<WatchStream>> Open(const Actor& actor, const TerminalQuery& query,
                                                    const WatchOptions& options,
                                                    std::function<void()> wake,
                                                    std::function<absl::Status()> still_allowed);
  // Ends every watch (OK) and stops the hub; later Opens fail Unavailable.
  void Stop();
  // Watches open, for tests and metrics.
  size_t open();

 private:
  void Loop();
  // One turn for one watch; true if it did any work.
  bool Step(WatchStream& w);
  // Reads one chunk of `f` from `after` and queues what differs; the cursor to go on from, if
  // there is more.
  absl::StatusOr<std::optional<int64_t>> Compare(WatchStream& w, const TerminalFilter& f,
                                                 int64_t after, WatchEventKind kind);

  TerminalRegistry& registry_;
  TerminalRepository& store_;
  ChangeFeed& feed_;
  Env& env_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<WatchStream>> watches_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;
  std::thread hub_;
};

// What a watcher compares: equal fingerprints mean nothing worth showing changed.
uint64_t WatchFingerprint(const Terminal& t);

}  // namespace posfleet::core

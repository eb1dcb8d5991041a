#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/change_feed.h"
#include "server/core/store.h"
#include "server/core/terminal_registry.h"

namespace posfleet::core {

enum class WatchEventKind { kSnapshot, kSynced, kChanged };

struct WatchOptions {
  bool snapshot = true;  // send every matching terminal first
  // Changes are gathered this long before they are read back, so a burst is one query.
  absl::Duration coalesce = absl::Milliseconds(100);
  // How often `cancelled` is asked while nothing happens.
  absl::Duration poll = absl::Milliseconds(500);
  // How often the caller's credentials are checked again (`still_allowed`): a watch must not
  // outlive a revoked token or a deleted tenant by more than this (and a poll).
  absl::Duration recheck = absl::Seconds(2);
};

// WatchTerminals: the terminals a query matches, then every change of their presence or health.
//
// It subscribes to the change feed before reading the snapshot, so nothing committed in between
// is missed; each changed terminal is read back through the same filter (a change that takes a
// terminal out of the filter, e.g. offline under online=true, is not sent) and sent only if what
// a person watches differs from what was last sent: presence, session, agent version and health
// other than uptime. Memory: one fingerprint per matching terminal.
class TerminalWatch {
 public:
  TerminalWatch(TerminalRegistry& registry, Store& store, ChangeFeed& feed)
      : registry_(registry), store_(store), feed_(feed) {}

  // `send` returns false when the receiver is gone; the watch ends then (OK), when `cancelled`
  // returns true (OK), when `still_allowed` (asked every options.recheck) returns an error (that
  // error: the token was revoked, its tenant deleted), or on a store error.
  using Sink = std::function<bool(WatchEventKind, const Terminal*)>;
  absl::Status Run(const Actor& actor, const TerminalQuery& query, const WatchOptions& options,
                   const Sink& send, const std::function<bool()>& cancelled,
                   const std::function<absl::Status()>& still_allowed);

 private:
  TerminalRegistry& registry_;
  Store& store_;
  ChangeFeed& feed_;
};

// What a watcher compares: equal fingerprints mean nothing worth showing changed.
uint64_t WatchFingerprint(const Terminal& t);

}  // namespace posfleet::core

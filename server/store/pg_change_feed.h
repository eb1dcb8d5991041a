#pragma once

#include <map>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/env.h"
#include "server/core/change_feed.h"

namespace posfleet::store {

// The channel the store notifies on, with comma-separated terminal ids as payload.
inline constexpr char kTerminalChangesChannel[] = "posfleet_terminal_changes";

// core::ChangeFeed over PostgreSQL LISTEN/NOTIFY: one dedicated connection per server, a thread
// that waits for notifications and hands them to the listeners. If the connection breaks it
// reconnects (every second) and then tells listeners to compare everything (an empty list), since
// notifications sent meanwhile are lost.
class PgChangeFeed final : public core::ChangeFeed {
 public:
  PgChangeFeed(std::string url, Env& env);
  ~PgChangeFeed() override;

  int Subscribe(Listener listener) override;
  void Unsubscribe(int handle) override;

  // For tests: true once the feed is listening (changes committed from now on are delivered).
  bool Listening();

 private:
  void Run();
  void Deliver(const std::vector<std::string>& ids);

  const std::string url_;
  Env& env_;
  absl::Mutex mu_;
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  int next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  bool listening_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex deliver_mu_;  // held while listeners run, so Unsubscribe can wait them out
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace posfleet::store

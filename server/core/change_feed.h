#pragma once

// Which terminals' presence or health just changed, told to whoever listens (WatchTerminals).
// The PostgreSQL implementation (store::PgChangeFeed) rides on LISTEN/NOTIFY, so a change written
// by any replica reaches the watchers on every replica, and only after it committed.

#include <functional>
#include <string>
#include <vector>

namespace posfleet::core {

class ChangeFeed {
 public:
  // Called on the feed's own thread with the ids of changed terminals; must not block. An empty
  // list means the feed may have missed changes (its connection broke and is back): listeners
  // compare everything again.
  using Listener = std::function<void(const std::vector<std::string>& terminal_ids)>;

  virtual ~ChangeFeed() = default;
  // Returns a handle for Unsubscribe. Changes committed after Subscribe returns are delivered.
  virtual int Subscribe(Listener listener) = 0;
  // After it returns, the listener is not running and will not be called again.
  virtual void Unsubscribe(int handle) = 0;
};

}  // namespace posfleet::core

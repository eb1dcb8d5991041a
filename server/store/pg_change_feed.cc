#include "server/store/pg_change_feed.h"

#include <pqxx/pqxx>

#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace posfleet::store {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, std::function<void(const std::string&)> on)
      : pqxx::notification_receiver(conn, kTerminalChangesChannel), on_(std::move(on)) {}
  void operator()(const std::string& payload, int) override { on_(payload); }

 private:
  std::function<void(const std::string&)> on_;
};

}  // namespace

PgChangeFeed::PgChangeFeed(std::string url, Env& env) : url_(std::move(url)), env_(env) {
  thread_ = std::thread([this] { Run(); });
}

PgChangeFeed::~PgChangeFeed() {
  stop_.Notify();
  thread_.join();
}

int PgChangeFeed::Subscribe(Listener listener) {
  absl::MutexLock lock(&mu_);
  const int handle = next_handle_++;
  listeners_.emplace(handle, std::move(listener));
  return handle;
}

void PgChangeFeed::Unsubscribe(int handle) {
  {
    absl::MutexLock lock(&mu_);
    listeners_.erase(handle);
  }
  absl::MutexLock wait_out(&deliver_mu_);  // a delivery in progress may still hold a copy
}

bool PgChangeFeed::Listening() {
  absl::MutexLock lock(&mu_);
  return listening_;
}

void PgChangeFeed::Deliver(const std::vector<std::string>& ids) {
  absl::MutexLock deliver(&deliver_mu_);
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [handle, l] : listeners_) listeners.push_back(l);
  }
  for (const Listener& l : listeners) l(ids);
}

void PgChangeFeed::Run() {
  bool first = true;
  while (!stop_.HasBeenNotified()) {
    try {
      pqxx::connection conn(url_);
      Receiver receiver(conn, [this](const std::string& payload) {
        std::vector<std::string> ids = absl::StrSplit(payload, ',', absl::SkipEmpty());
        if (!ids.empty()) Deliver(ids);
      });
      // LISTEN is sent when the receiver is registered; from here on nothing committed is missed.
      {
        absl::MutexLock lock(&mu_);
        listening_ = true;
      }
      if (!first) {
        spdlog::info("change feed: listening again; watchers re-read their terminals");
        Deliver({});
      }
      first = false;
      while (!stop_.HasBeenNotified()) conn.await_notification(0, 250000);
      return;
    } catch (const std::exception& e) {
      {
        absl::MutexLock lock(&mu_);
        listening_ = false;
      }
      spdlog::warn("change feed: {}; listening again in 1 s", e.what());
      first = false;
      env_.WaitForNotification(stop_, absl::Seconds(1));
    }
  }
}

}  // namespace posfleet::store

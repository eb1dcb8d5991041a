#include "server/link/disconnect_publisher.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace posfleet::link {

DisconnectPublisher::DisconnectPublisher(core::Store& store, LinkIngest& link, Counters& counters,
                                         DisconnectPublisherOptions options)
    : store_(store), link_(link), counters_(counters), options_(options) {}

DisconnectPublisher::~DisconnectPublisher() { Stop(); }

absl::StatusOr<int> DisconnectPublisher::RunOnce() {
  absl::StatusOr<std::vector<core::LinkDisconnect>> pending =
      store_.PendingLinkDisconnects(options_.batch);
  if (!pending.ok()) return pending.status();
  if (pending->empty()) return 0;
  std::string payload;
  for (const core::LinkDisconnect& d : *pending) {
    absl::StrAppend(&payload, "disconnect ", d.terminal_id, "\n");
  }
  if (!link_.PublishControl(payload, options_.publish_timeout)) {
    return absl::UnavailableError("the broker did not take the disconnect request");
  }
  if (absl::Status s = store_.CompleteLinkDisconnects(*pending); !s.ok()) return s;
  counters_.Add("posfleet_link_disconnects_total", "", static_cast<int64_t>(pending->size()));
  spdlog::info("link: asked the broker to disconnect {} suspended or retired terminal(s)",
               pending->size());
  return static_cast<int>(pending->size());
}

void DisconnectPublisher::Start() {
  thread_ = std::thread([this] {
    do {
      absl::StatusOr<int> n = RunOnce();
      if (!n.ok())
        spdlog::warn("link: disconnect requests not sent yet: {}", n.status().ToString());
    } while (!stop_.WaitForNotificationWithTimeout(options_.poll));
  });
}

void DisconnectPublisher::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace posfleet::link

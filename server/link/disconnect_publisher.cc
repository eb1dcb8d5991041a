#include "server/link/disconnect_publisher.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/link_topics.h"
#include "common/logging.h"

namespace posfleet::link {

DisconnectPublisher::DisconnectPublisher(core::EnrollmentRepository& store, BrokerLink& link,
                                         Counters& counters, Env& env,
                                         DisconnectPublisherOptions options)
    : store_(store), link_(link), counters_(counters), env_(env), options_(options) {}

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
  // A retired terminal's retained downlinks go too: its parameter set holds its secrets in
  // clear, and nobody will read it again. An empty retained message deletes the one kept; a
  // request whose deletion the broker did not take stays, and is asked again at the next poll.
  std::vector<core::LinkDisconnect> done, retired;
  for (const core::LinkDisconnect& d : *pending) (d.retired ? retired : done).push_back(d);
  if (!retired.empty()) {
    std::vector<std::pair<std::string, std::string>> clear;
    for (const core::LinkDisconnect& d : retired) {
      clear.emplace_back(DownTopic(d.terminal_id, "config"), "");
    }
    const std::vector<bool> cleared = link_.PublishRetained(clear, options_.publish_timeout);
    int64_t n = 0;
    for (size_t k = 0; k < retired.size() && k < cleared.size(); ++k) {
      if (!cleared[k]) continue;
      done.push_back(retired[k]);
      ++n;
    }
    counters_.Add("posfleet_link_retained_cleared_total", "", n);
  }
  if (absl::Status s = store_.CompleteLinkDisconnects(done); !s.ok()) return s;
  counters_.Add("posfleet_link_disconnects_total", "", static_cast<int64_t>(pending->size()));
  spdlog::info("link: asked the broker to disconnect {} suspended or retired terminal(s)",
               pending->size());
  return static_cast<int>(pending->size());
}

void DisconnectPublisher::RunLogged() {
  absl::StatusOr<int> n = RunOnce();
  if (!n.ok()) spdlog::warn("link: disconnect requests not sent yet: {}", n.status().ToString());
}

void DisconnectPublisher::Start() { loop_.Start(); }

void DisconnectPublisher::Stop() { loop_.Stop(); }

}  // namespace posfleet::link

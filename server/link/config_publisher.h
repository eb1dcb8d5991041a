#pragma once

#include <atomic>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/secret_box.h"
#include "server/core/store.h"
#include "server/link/link_ingest.h"

namespace posfleet::link {

struct ConfigPublisherOptions {
  // How often it looks for work without being woken (a change on another replica, a failed
  // publish to retry).
  absl::Duration interval = absl::Seconds(5);
  // How often desired sets are recomputed for terminals that appeared or changed (labels,
  // merchant) since they were last computed.
  absl::Duration refresh_interval = absl::Seconds(15);
  size_t batch = 2000;  // terminals per publishing transaction
  absl::Duration publish_timeout = absl::Seconds(30);
};

// Pushes desired state to terminals: every terminal whose desired set (terminal_config) differs
// from what was last published gets its effective set on posfleet/v1/t/{id}/down/config, QoS 1
// and retained, so a terminal that is offline gets the newest set when it comes back, and each
// change is published once. Rows are claimed with SKIP LOCKED, so replicas share the work
// without publishing a row twice; a row is marked published only after the broker took it.
//
// Secret values are unsealed here, for the one terminal the topic belongs to.
class ConfigPublisher {
 public:
  ConfigPublisher(core::Store& store, LinkIngest& link, const SecretBox* box, Counters& counters,
                  ConfigPublisherOptions options = {});
  ~ConfigPublisher();

  void Start();
  void Stop();
  // Publishes soon (after a committed change). Safe from any thread.
  void Wake();
  // One pass: recomputes stale terminals if `refresh`, then publishes everything pending.
  // Returns how many sets were published.
  absl::StatusOr<int64_t> RunOnce(bool refresh);

 private:
  std::vector<bool> Publish(const core::ConfigHead& head,
                            const std::vector<core::PendingPublish>& rows);

  core::Store& store_;
  LinkIngest& link_;
  const SecretBox* box_;
  Counters& counters_;
  const ConfigPublisherOptions options_;
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace posfleet::link

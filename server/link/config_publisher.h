#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/metrics.h"
#include "common/secret_box.h"
#include "server/core/repositories/configuration.h"

namespace posfleet::link {

struct ConfigPublisherOptions {
  // How often it looks for work without being woken (a change on another replica, a failed
  // publish to retry).
  absl::Duration interval = absl::Seconds(5);
  // How often desired sets are recomputed for terminals that appeared or changed (labels,
  // merchant) since they were last computed.
  absl::Duration refresh_interval = absl::Seconds(15);
  size_t batch = 2000;  // terminals per claim
  absl::Duration publish_timeout = absl::Seconds(30);
  // How long a claim keeps other replicas off its rows: longer than a publish may take, so that
  // only a replica that died mid-publish has its rows taken over.
  absl::Duration claim_lease = absl::Seconds(90);
};

// Publishes each (topic, payload) QoS 1 and retained, waiting up to the timeout for the broker;
// returns which it took (LinkIngest::PublishRetained).
using RetainedPublishFn = std::function<std::vector<bool>(
    const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration timeout)>;

// Pushes desired state to terminals: every terminal whose desired set (terminal_config) differs
// from what was last published gets its effective set on posfleet/v1/t/{id}/down/config, QoS 1
// and retained, so a terminal that is offline gets the newest set when it comes back, and each
// change is published once. Work goes in three steps, none of which publishes inside a
// transaction that may be retried: claim rows (a short transaction; replicas share the work
// without taking each other's rows), publish outside any transaction, then record what the
// broker took and release the claims. A row is marked published only after the broker took it.
//
// Secret values are unsealed here, for the one terminal the topic belongs to.
class ConfigPublisher {
 public:
  ConfigPublisher(core::ConfigRepository& store, RetainedPublishFn publish, const SecretBox* box,
                  Counters& counters, Env& env, ConfigPublisherOptions options = {});
  ~ConfigPublisher();

  void Start();
  void Stop();
  // Publishes soon (after a committed change). Safe from any thread.
  void Wake();
  // One pass: recomputes stale terminals if `refresh`, then publishes everything pending.
  // Returns how many sets were published.
  absl::StatusOr<int64_t> RunOnce(bool refresh);

 private:
  // One batch that went to the broker: every row claimed, and what the broker took.
  struct Batch {
    std::vector<std::string> claimed;
    std::vector<core::PublishedSet> published;
    void Add(Batch&& other);
  };
  // The database's steps, each one short transaction: claim the next batch, and record what
  // went out (unrecorded_: its rows published, its claims released; kept if that fails).
  absl::StatusOr<std::vector<core::ConfigClaim>> Claim(absl::Time& since);
  absl::Status RecordUnrecorded(absl::Time& since);
  // Appends the terminal id of every row of `claims` to `ids`.
  static void AddClaimed(const std::vector<core::ConfigClaim>& claims,
                         std::vector<std::string>* ids);
  // Publishes every claim of a batch.
  Batch Send(const std::vector<core::ConfigClaim>& claims);
  // Publishes one claim; returns what the broker took.
  std::vector<core::PublishedSet> Publish(const core::ConfigClaim& claim);
  // Adds the time since `since` to the step's counter
  // (posfleet_config_publish_step_microseconds_total: claim, send, record, wait_for_database)
  // and moves `since` to now.
  void Took(absl::string_view step, absl::Time& since);

  core::ConfigRepository& store_;
  const RetainedPublishFn publish_;
  const SecretBox* box_;
  Counters& counters_;
  Env& env_;
  const ConfigPublisherOptions options_;
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // Sent and not yet recorded; only RunOnce's thread and its database stage touch it, one at a
  // time.
  std::optional<Batch> unrecorded_;
};

}  // namespace posfleet::link

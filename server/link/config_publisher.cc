#include "server/link/config_publisher.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/link_topics.h"
#include "common/param_spec.h"
#include "common/param_spec_proto.h"
#include "posfleet/v1/config.pb.h"

namespace posfleet::link {

ConfigPublisher::ConfigPublisher(core::ConfigRepository& store, RetainedPublishFn publish,
                                 const SecretBox* box, Counters& counters, Env& env,
                                 ConfigPublisherOptions options)
    : store_(store),
      publish_(std::move(publish)),
      box_(box),
      counters_(counters),
      env_(env),
      options_(options) {}

ConfigPublisher::~ConfigPublisher() { Stop(); }

void ConfigPublisher::Start() {
  thread_ = std::thread([this] {
    absl::Time next_refresh = absl::InfinitePast();
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stop_; };
        env_.AwaitWithTimeout(mu_, absl::Condition(&ready), options_.interval);
        if (stop_) return;
        woken_ = false;
      }
      const bool refresh = env_.Now() >= next_refresh;
      if (refresh) next_refresh = env_.Now() + options_.refresh_interval;
      if (absl::StatusOr<int64_t> n = RunOnce(refresh); !n.ok()) {
        spdlog::warn("config: publishing postponed: {}", n.status().ToString());
      }
    }
  });
}

void ConfigPublisher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ConfigPublisher::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

absl::StatusOr<int64_t> ConfigPublisher::RunOnce(bool refresh) {
  if (refresh) {
    absl::StatusOr<int64_t> changed = store_.RefreshDesiredConfig();
    if (!changed.ok()) return changed.status();
    if (*changed > 0) {
      counters_.Add("posfleet_config_desired_refreshed_total", "", *changed);
      spdlog::info("config: {} terminals that appeared or changed have a new desired set",
                   *changed);
    }
  }
  int64_t total = 0;
  while (true) {
    absl::StatusOr<std::vector<core::ConfigClaim>> claims =
        store_.ClaimUnpublishedConfig(options_.batch, options_.claim_lease);
    if (!claims.ok()) return claims.status();
    size_t claimed_rows = 0;
    std::vector<std::string> claimed;
    std::vector<core::PublishedSet> published;
    for (const core::ConfigClaim& claim : *claims) {
      for (const core::PendingPublish& row : claim.rows) claimed.push_back(row.target.id);
      claimed_rows += claim.rows.size();
      std::vector<core::PublishedSet> sent = Publish(claim);
      published.insert(published.end(), sent.begin(), sent.end());
    }
    if (claimed.empty()) break;
    // If this fails the claims expire by themselves, and the sets go out once more then: the
    // agent takes a set it already runs as a no-op.
    if (absl::Status s = store_.FinishConfigClaims(claimed, published); !s.ok()) return s;
    total += static_cast<int64_t>(published.size());
    // A short claim means nothing is left that can go now.
    if (claimed_rows < options_.batch) break;
    // Every row of a full claim failed: the broker is not taking sets; retry on the next pass.
    if (published.empty()) break;
  }
  return total;
}

std::vector<core::PublishedSet> ConfigPublisher::Publish(const core::ConfigClaim& claim) {
  const core::ConfigHead& head = claim.head;
  const std::vector<core::PendingPublish>& rows = claim.rows;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<size_t> row_of;
  const absl::Time now = env_.Now();
  const core::ParamHasher hasher(head.params);
  // Every row of a claim shares its schema: each spec is looked up and converted once.
  struct Spec {
    const ParamSpec* spec;
    v1::ParamSpec proto;
  };
  absl::flat_hash_map<absl::string_view, Spec> specs;
  for (const auto& [key, spec] : head.params.schema) {
    Spec& s = specs[key];
    s.spec = &spec;
    ToProto(spec, &s.proto);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const core::PendingPublish& row = rows[i];
    const core::EffectiveParams params =
        core::Resolve(head.params.schema, core::LayersFor(head.params, row.target));
    if (hasher.Hash(params) != row.desired_hash) {
      // The row was computed at another revision or before the terminal changed; the next
      // refresh brings it up to date, and it is published then.
      counters_.Add("posfleet_config_publishes_total", "result=\"stale\"");
      continue;
    }
    v1::ConfigSet set;
    set.set_terminal_id(row.target.id);
    set.set_revision(static_cast<uint64_t>(row.desired_revision));
    set.set_hash(row.desired_hash);
    set.set_schema_version(static_cast<uint64_t>(head.meta.schema_version));
    set.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
    bool ok = true;
    std::optional<std::string> hash_key;  // opened once, for the first secret
    for (const auto& [key, p] : params) {
      const Spec& s = specs.at(key);
      const ParamSpec& spec = *s.spec;
      v1::ConfigSet::Param* out = set.add_params();
      *out->mutable_spec() = s.proto;
      if (!spec.secret) {
        out->set_value(p.value);
        continue;
      }
      absl::StatusOr<std::string> plain =
          box_ ? box_->Open(p.value) : absl::FailedPreconditionError("no --params-key-file");
      if (!plain.ok()) {
        spdlog::error("config: cannot unseal {} for terminal {}: {}", key, row.target.id,
                      plain.status().ToString());
        ok = false;
        break;
      }
      out->set_value(*plain);
      if (!hash_key) {
        absl::StatusOr<std::string> opened = box_->Open(head.params.hash_key_sealed);
        if (!opened.ok()) {
          spdlog::error("config: cannot unseal the hash key of tenant {}: {}", head.tenant_id,
                        opened.status().ToString());
          ok = false;
          break;
        }
        hash_key = *std::move(opened);
        set.set_hash_key(*hash_key);
      }
    }
    if (!ok) {
      counters_.Add("posfleet_config_publishes_total", "result=\"unsealable\"");
      continue;
    }
    std::string payload = set.SerializeAsString();
    if (payload.size() > kMaxConfigSetBytes) {
      // A change is refused before it gets here; a relabel can still put a terminal in groups
      // whose values together are too much. The terminal would refuse it: not sent, counted.
      spdlog::error("config: terminal {}'s set is {} bytes, more than the {} it takes; not sent",
                    row.target.id, payload.size(), kMaxConfigSetBytes);
      counters_.Add("posfleet_config_publishes_total", "result=\"too_large\"");
      continue;
    }
    messages.emplace_back(DownTopic(row.target.id, "config"), std::move(payload));
    row_of.push_back(i);
  }
  std::vector<core::PublishedSet> out;
  if (messages.empty()) return out;
  const std::vector<bool> sent = publish_(messages, options_.publish_timeout);
  int64_t ok = 0;
  for (size_t k = 0; k < sent.size() && k < row_of.size(); ++k) {
    if (!sent[k]) continue;
    const core::PendingPublish& row = rows[row_of[k]];
    out.push_back(core::PublishedSet{row.target.id, row.desired_hash});
    ++ok;
  }
  counters_.Add("posfleet_config_publishes_total", "result=\"ok\"", ok);
  if (ok < static_cast<int64_t>(sent.size())) {
    counters_.Add("posfleet_config_publishes_total", "result=\"failed\"",
                  static_cast<int64_t>(sent.size()) - ok);
  }
  return out;
}

}  // namespace posfleet::link

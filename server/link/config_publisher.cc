#include "server/link/config_publisher.h"

#include <spdlog/spdlog.h>

#include <future>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/link_topics.h"
#include "common/param_spec.h"
#include "common/param_spec_proto.h"
#include "common/status_macros.h"
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
  // Two stages overlap: while the broker takes one batch, the database records the batch before
  // it and claims the next. Each stage is one short transaction of its own, so nothing that may
  // be retried publishes, and neither waits for the other's round trips.
  absl::Time step = env_.Now();
  // What went out but could not be recorded (the database went away) is recorded first: while
  // its claims hold, nobody sends those sets again.
  RETURN_IF_ERROR(RecordUnrecorded(step));
  absl::StatusOr<std::vector<core::ConfigClaim>> claims = Claim(step);
  if (!claims.ok()) return claims.status();
  int64_t total = 0;
  while (!claims->empty()) {
    size_t rows = 0;
    for (const core::ConfigClaim& c : *claims) rows += c.rows.size();
    // A short claim means nothing is left that can go now.
    const bool full = rows >= options_.batch;
    // unrecorded_ belongs to the database stage until get() returns.
    std::future<absl::StatusOr<std::vector<core::ConfigClaim>>> database = std::async(
        std::launch::async, [this, full]() -> absl::StatusOr<std::vector<core::ConfigClaim>> {
          absl::Time since = env_.Now();
          RETURN_IF_ERROR(RecordUnrecorded(since));
          if (!full) return std::vector<core::ConfigClaim>();
          return Claim(since);
        });
    step = env_.Now();
    Batch batch = Send(*claims);
    Took("send", step);
    claims = database.get();
    Took("wait_for_database", step);
    total += static_cast<int64_t>(batch.published.size());
    if (claims.ok() && batch.published.empty() && !claims->empty()) {
      // Every row of a full claim failed: the broker is not taking sets. The claim made ahead
      // goes back at once with it, and the next pass tries again.
      AddClaimed(*claims, &batch.claimed);
      claims->clear();
    }
    if (!unrecorded_) unrecorded_.emplace();
    unrecorded_->Add(std::move(batch));
    if (!claims.ok()) return claims.status();
  }
  RETURN_IF_ERROR(RecordUnrecorded(step));
  return total;
}

void ConfigPublisher::Batch::Add(Batch&& other) {
  claimed.insert(claimed.end(), std::make_move_iterator(other.claimed.begin()),
                 std::make_move_iterator(other.claimed.end()));
  published.insert(published.end(), std::make_move_iterator(other.published.begin()),
                   std::make_move_iterator(other.published.end()));
}

absl::StatusOr<std::vector<core::ConfigClaim>> ConfigPublisher::Claim(absl::Time& since) {
  absl::StatusOr<std::vector<core::ConfigClaim>> claims =
      store_.ClaimUnpublishedConfig(options_.batch, options_.claim_lease);
  Took("claim", since);
  return claims;
}

absl::Status ConfigPublisher::RecordUnrecorded(absl::Time& since) {
  if (!unrecorded_) return absl::OkStatus();
  absl::Status s = store_.FinishConfigClaims(unrecorded_->claimed, unrecorded_->published);
  Took("record", since);
  if (s.ok()) unrecorded_.reset();
  return s;
}

void ConfigPublisher::AddClaimed(const std::vector<core::ConfigClaim>& claims,
                                 std::vector<std::string>* ids) {
  for (const core::ConfigClaim& claim : claims) {
    for (const core::PendingPublish& row : claim.rows) ids->push_back(row.target.id);
  }
}

ConfigPublisher::Batch ConfigPublisher::Send(const std::vector<core::ConfigClaim>& claims) {
  Batch batch;
  AddClaimed(claims, &batch.claimed);
  for (const core::ConfigClaim& claim : claims) {
    std::vector<core::PublishedSet> sent = Publish(claim);
    batch.published.insert(batch.published.end(), std::make_move_iterator(sent.begin()),
                           std::make_move_iterator(sent.end()));
  }
  return batch;
}

void ConfigPublisher::Took(absl::string_view step, absl::Time& since) {
  const absl::Time now = env_.Now();
  counters_.Add("posfleet_config_publish_step_microseconds_total",
                absl::StrCat("step=\"", step, "\""), absl::ToInt64Microseconds(now - since));
  since = now;
}

namespace {

// Every row of a claim shares its schema: each spec is looked up and converted once.
struct ClaimSpec {
  const ParamSpec* spec;
  v1::ParamSpec proto;
};
using ClaimSpecs = absl::flat_hash_map<absl::string_view, ClaimSpec>;

ClaimSpecs SpecsOf(const core::TenantParams& params) {
  ClaimSpecs specs;
  for (const auto& [key, spec] : params.schema) {
    ClaimSpec& s = specs[key];
    s.spec = &spec;
    ToProto(spec, &s.proto);
  }
  return specs;
}

// Adds `params` to `set`, secrets unsealed for this one terminal with the tenant's hash key
// (opened once, for the first secret). False, logged, if a secret or the key does not open.
bool AddParams(const core::ConfigHead& head, const std::string& terminal_id,
               const core::EffectiveParams& params, const ClaimSpecs& specs, const SecretBox* box,
               v1::ConfigSet& set) {
  bool hash_key_set = false;
  for (const auto& [key, p] : params) {
    const ClaimSpec& s = specs.at(key);
    v1::ConfigSet::Param* out = set.add_params();
    *out->mutable_spec() = s.proto;
    if (!s.spec->secret) {
      out->set_value(p.value);
      continue;
    }
    absl::StatusOr<std::string> plain =
        box ? box->Open(p.value) : absl::FailedPreconditionError("no --params-key-file");
    if (!plain.ok()) {
      spdlog::error("config: cannot unseal {} for terminal {}: {}", key, terminal_id,
                    plain.status().ToString());
      return false;
    }
    out->set_value(*plain);
    if (hash_key_set) continue;
    absl::StatusOr<std::string> opened = box->Open(head.params.hash_key_sealed);
    if (!opened.ok()) {
      spdlog::error("config: cannot unseal the hash key of tenant {}: {}", head.tenant_id,
                    opened.status().ToString());
      return false;
    }
    set.set_hash_key(*std::move(opened));
    hash_key_set = true;
  }
  return true;
}

// The serialized down/config set of one claimed row, or nullopt (counted) when it cannot go
// now: stale, a secret that does not open, or more than a terminal takes.
std::optional<std::string> Payload(const core::ConfigHead& head, const core::ParamHasher& hasher,
                                   const core::PendingPublish& row, const ClaimSpecs& specs,
                                   const SecretBox* box, absl::Time now, Counters& counters) {
  const core::EffectiveParams params =
      core::Resolve(head.params.schema, core::LayersFor(head.params, row.target));
  if (hasher.Hash(params) != row.desired_hash) {
    // The row was computed at another revision or before the terminal changed; the next refresh
    // brings it up to date, and it is published then.
    counters.Add("posfleet_config_publishes_total", "result=\"stale\"");
    return std::nullopt;
  }
  v1::ConfigSet set;
  set.set_terminal_id(row.target.id);
  set.set_revision(static_cast<uint64_t>(row.desired_revision));
  set.set_hash(row.desired_hash);
  set.set_schema_version(static_cast<uint64_t>(head.meta.schema_version));
  set.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
  if (!AddParams(head, row.target.id, params, specs, box, set)) {
    counters.Add("posfleet_config_publishes_total", "result=\"unsealable\"");
    return std::nullopt;
  }
  std::string payload = set.SerializeAsString();
  if (payload.size() > kMaxConfigSetBytes) {
    // A change is refused before it gets here; a relabel can still put a terminal in groups
    // whose values together are too much. The terminal would refuse it: not sent, counted.
    spdlog::error("config: terminal {}'s set is {} bytes, more than the {} it takes; not sent",
                  row.target.id, payload.size(), kMaxConfigSetBytes);
    counters.Add("posfleet_config_publishes_total", "result=\"too_large\"");
    return std::nullopt;
  }
  return payload;
}

}  // namespace

std::vector<core::PublishedSet> ConfigPublisher::Publish(const core::ConfigClaim& claim) {
  const std::vector<core::PendingPublish>& rows = claim.rows;
  const core::ParamHasher hasher(claim.head.params);
  const ClaimSpecs specs = SpecsOf(claim.head.params);
  const absl::Time now = env_.Now();
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<size_t> row_of;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::optional<std::string> payload =
        Payload(claim.head, hasher, rows[i], specs, box_, now, counters_);
    if (!payload) continue;
    messages.emplace_back(DownTopic(rows[i].target.id, "config"), *std::move(payload));
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

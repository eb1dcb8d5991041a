#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "server/core/types.h"

namespace posfleet::core {

// Per replica. Zero disables a limit.
struct CallLimitOptions {
  // Calls a second one token may start, sustained, and how many it may start at once after a
  // quiet spell (a token bucket). Streams count once, when they open.
  double token_rate = 50;
  double token_burst = 100;
  // The same for all of one tenant's tokens together (global tokens share the tenant "*").
  double tenant_rate = 200;
  double tenant_burst = 400;
  // Streams (WatchTerminals) open at once.
  int streams_per_token = 8;
  int streams_per_tenant = 32;
  // Unary calls under way at once per tenant. A call holds at most one database connection at a
  // time, so this is the tenant's share of the pool: with the pool's 8 connections and 3 here, one
  // tenant's heavy queries leave the other tenants at least 5.
  int calls_per_tenant = 3;
  // Buckets remembered at most; beyond, full ones (nothing to remember) are dropped first.
  size_t max_keys = 100000;

  // Every limit off (tests, and the benchmarks where one token drives the whole load).
  static CallLimitOptions Off() {
    CallLimitOptions o;
    o.token_rate = o.tenant_rate = 0;
    o.streams_per_token = o.streams_per_tenant = o.calls_per_tenant = 0;
    return o;
  }
};

// Which limit refused a call (the metric's label).
enum class LimitKind { kTokenRate, kTenantRate, kTokenStreams, kTenantStreams, kTenantCalls };
const char* LimitName(LimitKind kind);

// The status payload (type URL) carrying how many milliseconds to wait before retrying.
inline constexpr char kRetryAfterMsPayload[] = "posfleet/retry-after-ms";
// Milliseconds from a RESOURCE_EXHAUSTED status's retry payload, if it has one.
std::optional<int64_t> RetryAfterMs(const absl::Status& status);

// Limits on what one authenticated caller may take from the server, so that no token or tenant
// starves the others: a request rate per token and per tenant, concurrent streams per token and
// per tenant, and concurrent unary calls per tenant (its fair share of the database pool). A call
// over a limit is refused at once with RESOURCE_EXHAUSTED, a message naming the limit and a
// retry hint (also as kRetryAfterMsPayload; the API sends it as grpc-retry-pushback-ms).
class CallLimits {
 public:
  CallLimits(CallLimitOptions options, Env& env) : options_(options), env_(env) {}

  // Holds a concurrency slot until destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();

   private:
    friend class CallLimits;
    CallLimits* limits_ = nullptr;
    std::string token_, tenant_;
    bool stream_ = false;
  };

  enum class CallKind { kUnary, kStream };

  // The per-token rate, before the token is even looked up: `caller` is a digest of the secret
  // presented, so a caller over its rate (or one trying secrets) costs no database query.
  // `cost` is in calls: a page of N rows counts as N/100 (at least 1).
  absl::Status AdmitCaller(const std::string& caller, double cost = 1,
                           std::optional<LimitKind>* refused_by = nullptr);
  // Admits a call of the authenticated `actor` against its tenant's rate (`cost` as above), its
  // streams and its calls under way, or refuses it (RESOURCE_EXHAUSTED) and says in `refused_by`
  // which limit it is over, for the metric.
  absl::StatusOr<Ticket> Admit(const Actor& actor, CallKind kind, double cost = 1,
                               std::optional<LimitKind>* refused_by = nullptr);

  // Keys remembered by the fullest of its maps (per secret, per token, per tenant), for tests of
  // the memory bound: each holds at most max_keys + 1.
  size_t keys() {
    absl::MutexLock lock(&mu_);
    return std::max({callers_.size(), tokens_.size(), tenants_.size()});
  }

 private:
  struct Usage {
    double tokens = -1;  // the bucket; -1 until first used (then full)
    absl::Time filled;
    int streams = 0;
    int calls = 0;
  };
  // What the bucket holds at `now`, refilled at `rate` up to `burst` (full when never used).
  static double Refilled(const Usage& u, double rate, double burst, absl::Time now);
  // Takes `cost` from the bucket, or says in how long it will be there.
  static std::optional<absl::Duration> Take(Usage& u, double rate, double burst, double cost,
                                            absl::Time now);
  Usage& Find(absl::flat_hash_map<std::string, Usage>& map, const std::string& key, absl::Time now,
              double rate, double burst) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const Ticket& ticket);

  const CallLimitOptions options_;
  Env& env_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Usage> callers_ ABSL_GUARDED_BY(mu_);  // rate per secret
  absl::flat_hash_map<std::string, Usage> tokens_ ABSL_GUARDED_BY(mu_);   // streams per token
  absl::flat_hash_map<std::string, Usage> tenants_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::core

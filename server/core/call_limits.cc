#include "server/core/call_limits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace posfleet::core {
namespace {

// Global tokens are limited together as if they were one tenant.
std::string TenantKey(const Actor& actor) { return actor.global() ? "*" : actor.tenant_id; }

absl::Status Refuse(const std::string& what, absl::Duration wait) {
  const int64_t ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
  absl::Status s = absl::ResourceExhaustedError(absl::StrCat(what, "; retry in ", ms, " ms"));
  s.SetPayload(kRetryAfterMsPayload, absl::Cord(absl::StrCat(ms)));
  return s;
}

}  // namespace

const char* LimitName(LimitKind kind) {
  switch (kind) {
    case LimitKind::kTokenRate:
      return "token_rate";
    case LimitKind::kTenantRate:
      return "tenant_rate";
    case LimitKind::kTokenStreams:
      return "token_streams";
    case LimitKind::kTenantStreams:
      return "tenant_streams";
    case LimitKind::kTenantCalls:
      return "tenant_calls";
  }
  return "unknown";
}

std::optional<int64_t> RetryAfterMs(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterMsPayload);
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return ms;
}

CallLimits::Ticket& CallLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this == &other) return *this;
  if (limits_ != nullptr) limits_->Release(*this);
  limits_ = std::exchange(other.limits_, nullptr);
  token_ = std::move(other.token_);
  tenant_ = std::move(other.tenant_);
  stream_ = other.stream_;
  return *this;
}

CallLimits::Ticket::~Ticket() {
  if (limits_ != nullptr) limits_->Release(*this);
}

double CallLimits::Refilled(const Usage& u, double rate, double burst, absl::Time now) {
  if (u.tokens < 0) return burst;
  return std::min(burst, u.tokens + rate * absl::ToDoubleSeconds(now - u.filled));
}

std::optional<absl::Duration> CallLimits::Take(Usage& u, double rate, double burst, double cost,
                                               absl::Time now) {
  if (rate <= 0) return std::nullopt;  // no limit
  u.tokens = Refilled(u, rate, burst, now);
  u.filled = now;
  cost = std::min(cost, burst);  // a call dearer than the whole burst still gets through, alone
  if (u.tokens >= cost) {
    u.tokens -= cost;
    return std::nullopt;
  }
  return absl::Seconds((cost - u.tokens) / rate);
}

absl::Status CallLimits::AdmitCaller(const std::string& caller, double cost,
                                     std::optional<LimitKind>* refused_by) {
  const absl::Time now = env_.Now();
  absl::MutexLock lock(&mu_);
  Usage& u = Find(callers_, caller, now, options_.token_rate, options_.token_burst);
  if (std::optional<absl::Duration> wait =
          Take(u, options_.token_rate, options_.token_burst, cost, now)) {
    if (refused_by != nullptr) *refused_by = LimitKind::kTokenRate;
    return Refuse(absl::StrCat("this token calls faster than ", options_.token_rate,
                               " a second (a page of 1,000 counts as 10)"),
                  *wait);
  }
  return absl::OkStatus();
}

CallLimits::Usage& CallLimits::Find(absl::flat_hash_map<std::string, Usage>& map,
                                    const std::string& key, absl::Time now, double rate,
                                    double burst) {
  auto it = map.find(key);
  if (it != map.end()) return it->second;
  if (map.size() >= options_.max_keys) {
    // A bucket that has refilled and holds no slot remembers nothing worth keeping.
    for (auto i = map.begin(); i != map.end();) {
      const Usage& u = i->second;
      const bool full = rate <= 0 || Refilled(u, rate, burst, now) >= burst;
      if (u.streams == 0 && u.calls == 0 && full) {
        map.erase(i++);
      } else {
        ++i;
      }
    }
  }
  return map[key];
}

absl::StatusOr<CallLimits::Ticket> CallLimits::Admit(const Actor& actor, CallKind kind, double cost,
                                                     std::optional<LimitKind>* refused_by) {
  const absl::Time now = env_.Now();
  const std::string tenant = TenantKey(actor);
  auto refuse = [&](LimitKind limit, const std::string& what, absl::Duration wait) {
    if (refused_by != nullptr) *refused_by = limit;
    return Refuse(what, wait);
  };
  absl::MutexLock lock(&mu_);
  Usage& by_token = Find(tokens_, actor.token_id, now, options_.token_rate, options_.token_burst);
  Usage& by_tenant = Find(tenants_, tenant, now, options_.tenant_rate, options_.tenant_burst);
  if (kind == CallKind::kStream) {
    if (options_.streams_per_token > 0 && by_token.streams >= options_.streams_per_token) {
      return refuse(LimitKind::kTokenStreams,
                    absl::StrCat("this token has ", by_token.streams,
                                 " streams open, the most it may; close one"),
                    absl::Seconds(1));
    }
    if (options_.streams_per_tenant > 0 && by_tenant.streams >= options_.streams_per_tenant) {
      return refuse(LimitKind::kTenantStreams,
                    absl::StrCat("this tenant's tokens have ", by_tenant.streams,
                                 " streams open, the most they may; close one"),
                    absl::Seconds(1));
    }
  } else if (options_.calls_per_tenant > 0 && by_tenant.calls >= options_.calls_per_tenant) {
    return refuse(LimitKind::kTenantCalls,
                  absl::StrCat("this tenant has ", by_tenant.calls,
                               " calls under way, the most it may at once"),
                  absl::Milliseconds(50));
  }
  if (std::optional<absl::Duration> wait =
          Take(by_tenant, options_.tenant_rate, options_.tenant_burst, cost, now)) {
    return refuse(LimitKind::kTenantRate,
                  absl::StrCat("this tenant calls faster than ", options_.tenant_rate, " a second"),
                  *wait);
  }
  Ticket ticket;
  ticket.limits_ = this;
  ticket.token_ = actor.token_id;
  ticket.tenant_ = tenant;
  ticket.stream_ = kind == CallKind::kStream;
  if (ticket.stream_) {
    ++by_token.streams;
    ++by_tenant.streams;
  } else {
    ++by_token.calls;
    ++by_tenant.calls;
  }
  return ticket;
}

void CallLimits::Release(const Ticket& ticket) {
  absl::MutexLock lock(&mu_);
  for (auto [map, key] :
       {std::pair{&tokens_, &ticket.token_}, std::pair{&tenants_, &ticket.tenant_}}) {
    auto it = map->find(*key);
    if (it == map->end()) continue;
    int& n = ticket.stream_ ? it->second.streams : it->second.calls;
    n = std::max(0, n - 1);
  }
}

}  // namespace posfleet::core

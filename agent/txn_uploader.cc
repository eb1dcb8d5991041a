#include "agent/txn_uploader.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::agent {

void TxnUploader::OnAck(const std::string& payload) {
  v1::TxnAck ack;
  if (!ack.ParseFromString(payload)) {
    spdlog::warn("agent: ignored a down/ack that is not a TxnAck");
    return;
  }
  std::vector<OutboxCommitted> committed;
  for (const auto& c : ack.committed()) committed.push_back({c.seq(), c.txn_id()});
  std::vector<OutboxRejection> rejected;
  for (const auto& r : ack.rejected()) {
    rejected.push_back(OutboxRejection{r.seq(), r.txn_id(), r.field(), r.reason()});
    spdlog::warn("agent: the server refused transaction {}: {}: {}",
                 r.txn_id().empty() ? "(unusable id)" : r.txn_id(), r.field(), r.reason());
  }
  absl::StatusOr<std::vector<uint64_t>> done = outbox_.Settle(committed, rejected);
  if (!done.ok()) {
    spdlog::error("agent: {}", done.status().ToString());  // kept: sent and acked again
    return;
  }
  const size_t named = committed.size() + rejected.size();
  if (done->size() < named) {
    // Late duplicates, or entries for records this outbox never held: nothing removed.
    spdlog::debug("agent: an ack named {} record(s) not in the outbox", named - done->size());
  }
  if (named > 0) unheard_retry_ = kFirstUnheardRetry;  // a server reads again
  const absl::flat_hash_set<uint64_t> settled(done->begin(), done->end());
  const absl::Time now = env_.Now();
  for (Inflight& b : inflight_) {
    auto& v = b.seqs;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const std::pair<uint64_t, absl::Time>& e) {
                             if (settled.count(e.first) == 0) return false;
                             if (options_.on_committed) options_.on_committed(now - e.second);
                             return true;
                           }),
            v.end());
  }
  inflight_.erase(std::remove_if(inflight_.begin(), inflight_.end(),
                                 [](const Inflight& b) { return b.seqs.empty(); }),
                  inflight_.end());
  // Only what this ack settled counts: a late duplicate (after a resend) or an entry naming a
  // record this outbox never held counts nothing.
  for (const OutboxCommitted& c : committed) acknowledged_ += settled.count(c.seq);
  for (const OutboxRejection& r : rejected) rejected_ += settled.count(r.seq);
}

void TxnUploader::PullDeadlines(absl::Time to) {
  for (Inflight& f : inflight_) f.deadline = std::min(f.deadline, to);
}

void TxnUploader::OnUnheard() {
  PullDeadlines(env_.Now() + unheard_retry_);
  unheard_retry_ = std::min(unheard_retry_ * 2, options_.ack_timeout);
}

void TxnUploader::OnServerReady() {
  const absl::Time now = env_.Now();
  if (inflight_.empty() || now - ready_handled_ < absl::Seconds(1)) return;
  // Each terminal at its own moment within the spread, so a restarted server is not flooded.
  ready_handled_ = now;
  PullDeadlines(now + options_.ready_resend_spread * env_.Uniform());
  unheard_retry_ = kFirstUnheardRetry;
}

void TxnUploader::ForgetInFlight() {
  inflight_.clear();
  sent_through_ = 0;
}

void TxnUploader::Reset(std::string terminal_id) {
  terminal_id_ = std::move(terminal_id);
  ForgetInFlight();
}

void TxnUploader::Pump() {
  const absl::Time now = env_.Now();
  if (!inflight_.empty() && inflight_.front().deadline <= now) {
    // The server did not answer in time (it may have crashed, or dropped the batch while
    // PostgreSQL was slow): send everything unacknowledged again; replays are harmless.
    if (uint64_t held = 0;
        resend_log_.Allow(absl::StrCat("resend ", inflight_.front().batch_id), now, &held)) {
      spdlog::warn("agent: no ack for batch {} yet; sending {} record(s) again",
                   inflight_.front().batch_id, in_flight());
    }
    ForgetInFlight();
  }
  while (static_cast<int>(inflight_.size()) < options_.window && SendNext(now)) {
  }
}

bool TxnUploader::SendNext(absl::Time now) {
  absl::StatusOr<std::vector<OutboxEntry>> entries =
      outbox_.After(sent_through_, options_.batch_records, options_.max_batch_bytes);
  if (!entries.ok()) {
    spdlog::error("agent: {}", entries.status().ToString());
    return false;
  }
  if (entries->empty()) return false;
  // Nagle's rule for batches: a batch that is not full waits while another such batch is in
  // flight, so the records that arrive meanwhile go together with the ack's return. The first
  // record after a quiet spell still leaves at once; under load messages grow instead of
  // multiplying (each costs the broker, the server and the terminal far more than a record).
  size_t bytes = 0;
  for (const OutboxEntry& e : *entries) bytes += e.record.size();
  const bool full =
      entries->size() >= options_.batch_records || bytes >= options_.max_batch_bytes / 2;
  if (!full &&
      std::any_of(inflight_.begin(), inflight_.end(), [](const Inflight& f) { return !f.full; })) {
    return false;
  }
  v1::TxnBatch batch;
  batch.set_terminal_id(terminal_id_);
  batch.set_batch_id(next_batch_id_++);
  Inflight flight;
  flight.batch_id = batch.batch_id();
  flight.full = full;
  flight.deadline = now + options_.ack_timeout;
  for (const OutboxEntry& e : *entries) {
    v1::TxnRecord* r = batch.add_records();
    if (!r->ParseFromString(e.record)) {
      // Written by this agent, so this is disk corruption; the server refuses it and says so.
      spdlog::error("agent: outbox record {} is unreadable", e.seq);
    }
    r->set_seq(e.seq);
    flight.seqs.emplace_back(e.seq, e.added);
  }
  if (absl::Status s = publish_(batch.SerializeAsString()); !s.ok()) {
    spdlog::warn("agent: transactions not sent: {}", s.ToString());
    return false;
  }
  sent_through_ = entries->back().seq;
  inflight_.push_back(std::move(flight));
  return true;
}

uint64_t TxnUploader::in_flight() const {
  uint64_t n = 0;
  for (const Inflight& b : inflight_) n += b.seqs.size();
  return n;
}

absl::Time TxnUploader::NextDeadline() const {
  return inflight_.empty() ? absl::InfiniteFuture() : inflight_.front().deadline;
}

}  // namespace posfleet::agent

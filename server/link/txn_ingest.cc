#include "server/link/txn_ingest.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/link_topics.h"
#include "common/logging.h"
#include "posfleet/v1/link.pb.h"

namespace posfleet::link {
namespace {

constexpr char kTxnMetric[] = "posfleet_txn_records_total";

}  // namespace

TxnIngest::TxnIngest(core::TransactionRepository& store, Counters& counters, Env& env,
                     TxnIngestOptions options, Publish publish)
    : store_(store),
      counters_(counters),
      env_(env),
      options_(std::move(options)),
      publish_(std::move(publish)) {}

TxnIngest::~TxnIngest() { Stop(); }

void TxnIngest::Start() {
  for (int w = 0; w < std::max(1, options_.writers); ++w) {
    writers_.emplace_back([this] { WriterLoop(); });
  }
}

void TxnIngest::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  for (std::thread& t : writers_) t.join();
  writers_.clear();
  (void)Flush();
}

void TxnIngest::WriterLoop() {
  absl::Duration retry = options_.retry;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
    }
    if (absl::Status s = Flush(); !s.ok()) {
      spdlog::warn("link: transactions not committed yet, retrying in {}: {}",
                   absl::FormatDuration(retry), s.ToString());
      {
        absl::MutexLock lock(&mu_);
        auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
        if (env_.AwaitWithTimeout(mu_, absl::Condition(&stopped), retry)) return;
      }
      retry = std::min(retry * 2, absl::Seconds(5));
    } else {
      retry = options_.retry;
    }
  }
}

void TxnIngest::CountRejections(const std::string& terminal_id, const TxnUpload& upload) {
  for (const TxnRejection& r : upload.rejected) {
    if (r.card_number) {
      counters_.Add("posfleet_txn_quarantined_total", absl::StrCat("field=\"", r.field, "\""));
      spdlog::warn("link: quarantined a transaction of {}: txn {}, field {} holds a card number",
                   terminal_id, r.txn_id.empty() ? "(id unusable)" : r.txn_id, r.field);
    } else {
      counters_.Add(kTxnMetric, "result=\"rejected\"");
      spdlog::debug("link: rejected a transaction of {}: txn {}, {}: {}", terminal_id,
                    r.txn_id.empty() ? "(id unusable)" : r.txn_id, r.field, r.reason);
    }
  }
}

void TxnIngest::Queue(const std::string& terminal_id, TxnUpload upload) {
  CountRejections(terminal_id, upload);
  if (upload.records.empty()) {
    Acknowledge({PendingBatch{terminal_id, std::move(upload)}}, {}, {}, {});
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (pending_records_ + upload.records.size() <= options_.pending_max) {
      pending_records_ += upload.records.size();
      pending_.push_back(PendingBatch{terminal_id, std::move(upload)});
      return;
    }
  }
  // Backpressure: the terminal keeps the records and sends them again after its ack timeout.
  counters_.Add("posfleet_txn_batches_deferred_total", "");
}

void TxnIngest::CountOutcome(const core::IngestOutcome& out) {
  counters_.Add(kTxnMetric, "result=\"inserted\"", out.inserted);
  counters_.Add(kTxnMetric, "result=\"duplicate\"", out.duplicates);
  if (out.unknown_terminal > 0) {
    counters_.Add(kTxnMetric, "result=\"unknown_terminal\"", out.unknown_terminal);
  }
  if (out.inactive_terminal > 0) {
    counters_.Add(kTxnMetric, "result=\"inactive_terminal\"", out.inactive_terminal);
    counters_.Add("posfleet_link_refused_total", "reason=\"inactive\"", out.inactive_terminal);
  }
  if (out.conflicts > 0) counters_.Add(kTxnMetric, "result=\"conflict\"", out.conflicts);
}

absl::Status TxnIngest::Flush() {
  // Writers run this concurrently, each with its own batches: acks name seqs, so the order in
  // which commits finish does not matter.
  std::vector<PendingBatch> batches;
  size_t count = 0;
  {
    absl::MutexLock lock(&mu_);
    while (
        !pending_.empty() &&
        (batches.empty() || count + pending_.front().upload.records.size() <= options_.batch_max)) {
      count += pending_.front().upload.records.size();
      batches.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
  }
  if (batches.empty()) return absl::OkStatus();
  // The records of all batches, in batch order; each batch keeps its record count.
  std::vector<core::Txn> all;
  all.reserve(count);
  for (PendingBatch& b : batches) {
    for (core::Txn& t : b.upload.records) all.push_back(std::move(t));
  }
  const absl::Time begin = env_.Now();
  absl::StatusOr<core::IngestOutcome> out = store_.IngestTransactions(all);
  counters_.Add("posfleet_txn_commits_total", out.ok() ? "result=\"ok\"" : "result=\"error\"");
  counters_.Add("posfleet_txn_commit_microseconds_total", "",
                absl::ToInt64Microseconds(env_.Now() - begin));
  if (!out.ok()) {
    counters_.Add("posfleet_txn_commit_failures_total", "");
    // Back to the front, in order, for the next try; nothing was acknowledged.
    size_t i = 0;
    for (PendingBatch& b : batches) {
      for (core::Txn& t : b.upload.records) t = std::move(all[i++]);
    }
    absl::MutexLock lock(&mu_);
    for (auto it = batches.rbegin(); it != batches.rend(); ++it) {
      pending_.push_front(std::move(*it));
    }
    return out.status();
  }
  CountOutcome(*out);
  Acknowledge(batches, all, out->committed, out->conflict);
  absl::MutexLock lock(&mu_);
  pending_records_ -= count;
  return absl::OkStatus();
}

void TxnIngest::Acknowledge(const std::vector<PendingBatch>& batches,
                            const std::vector<core::Txn>& records,
                            const std::vector<bool>& committed, const std::vector<bool>& conflict) {
  // One message per terminal, however many of its batches this commit covered.
  std::map<std::string, v1::TxnAck> acks;
  size_t i = 0;
  for (const PendingBatch& b : batches) {
    v1::TxnAck& ack = acks[b.terminal_id];
    ack.set_batch_id(std::max(ack.batch_id(), b.upload.batch_id));
    for (size_t end = i + b.upload.records.size(); i < end; ++i) {
      if (!conflict.empty() && conflict[i]) {
        v1::TxnAck::Rejection* out = ack.add_rejected();
        out->set_seq(static_cast<uint64_t>(records[i].seq));
        out->set_txn_id(records[i].txn_id);
        out->set_field("txn_id");
        out->set_reason("conflict: this transaction id is already stored with other content");
        continue;
      }
      if (!committed[i]) continue;
      v1::TxnAck::Committed* c = ack.add_committed();
      c->set_seq(static_cast<uint64_t>(records[i].seq));
      c->set_txn_id(records[i].txn_id);
    }
    for (const TxnRejection& r : b.upload.rejected) {
      v1::TxnAck::Rejection* out = ack.add_rejected();
      out->set_seq(r.seq);
      out->set_txn_id(r.txn_id);
      out->set_field(r.field);
      out->set_reason(r.reason);
    }
  }
  for (const auto& [terminal_id, ack] : acks) {
    if (ack.committed_size() == 0 && ack.rejected_size() == 0) continue;
    // Unsent: the terminal sends the batch again after its ack timeout; the replay is absorbed.
    const bool sent = publish_(DownTopic(terminal_id, "ack"), ack.SerializeAsString());
    counters_.Add(sent ? "posfleet_txn_acks_total" : "posfleet_txn_acks_unsent_total", "");
  }
}

}  // namespace posfleet::link

#include "agent/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"

#define RETURN_IF_SQL(expr)                       \
  do {                                            \
    if ((expr) != SQLITE_OK) return Error(#expr); \
  } while (0)

namespace posfleet::agent {
namespace {

absl::Status ResourceFull(uint64_t capacity) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "outbox full: ", capacity, " records wait for the server; nothing was recorded"));
}

// One statement, prepared once, reset after each use.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(sqlite3* db, uint64_t capacity, Env& env)
      : db_(db), capacity_(capacity), env_(env) {}
  ~SqliteOutbox() override {
    insert_.reset();
    find_.reset();
    after_.reset();
    remove_.reset();
    reject_.reset();
    sqlite3_close(db_);
  }

  absl::Status Init() {
    const char* setup =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "txn_id TEXT NOT NULL UNIQUE, record BLOB NOT NULL, added INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "seq INTEGER NOT NULL, txn_id TEXT NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL);";
    RETURN_IF_SQL(sqlite3_exec(db_, setup, nullptr, nullptr, nullptr));
    insert_ =
        std::make_unique<Stmt>(db_, "INSERT INTO outbox (txn_id, record, added) VALUES (?, ?, ?)");
    find_ = std::make_unique<Stmt>(db_, "SELECT seq FROM outbox WHERE txn_id = ?");
    after_ = std::make_unique<Stmt>(
        db_, "SELECT seq, record, added FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    remove_ = std::make_unique<Stmt>(db_, "DELETE FROM outbox WHERE seq = ? AND txn_id = ?");
    reject_ = std::make_unique<Stmt>(
        db_, "INSERT INTO rejected (seq, txn_id, field, reason) VALUES (?, ?, ?, ?)");
    if (!*insert_ || !*find_ || !*after_ || !*remove_ || !*reject_) return Error("prepare");
    sqlite3_stmt* count = nullptr;
    sqlite3_prepare_v2(db_, "SELECT count(*) FROM outbox", -1, &count, nullptr);
    if (count == nullptr || sqlite3_step(count) != SQLITE_ROW) {
      sqlite3_finalize(count);
      return Error("count");
    }
    size_ = static_cast<uint64_t>(sqlite3_column_int64(count, 0));
    sqlite3_finalize(count);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<OutboxAdd>> AddAll(
      const std::vector<std::pair<std::string, std::string>>& records) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_SQL(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr));
    std::vector<OutboxAdd> out;
    uint64_t added = 0;
    absl::Status status = absl::OkStatus();
    for (const auto& [txn_id, record] : records) {
      sqlite3_stmt* f = find_->get();
      sqlite3_bind_text(f, 1, txn_id.data(), static_cast<int>(txn_id.size()), SQLITE_STATIC);
      const bool found = sqlite3_step(f) == SQLITE_ROW;
      const uint64_t existing = found ? static_cast<uint64_t>(sqlite3_column_int64(f, 0)) : 0;
      sqlite3_reset(f);
      if (found) {
        out.push_back(OutboxAdd{existing, true});
        continue;
      }
      if (size_ + added >= capacity_) {
        status = ResourceFull(capacity_);
        break;
      }
      sqlite3_stmt* s = insert_->get();
      sqlite3_bind_text(s, 1, txn_id.data(), static_cast<int>(txn_id.size()), SQLITE_STATIC);
      sqlite3_bind_blob(s, 2, record.data(), static_cast<int>(record.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 3, absl::ToUnixMillis(env_.Now()));
      const int rc = sqlite3_step(s);
      sqlite3_reset(s);
      if (rc != SQLITE_DONE) {
        status = Error("insert");
        break;
      }
      ++added;
      out.push_back(OutboxAdd{static_cast<uint64_t>(sqlite3_last_insert_rowid(db_)), false});
    }
    if (!status.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
    RETURN_IF_SQL(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr));
    size_ += added;
    return out;
  }

  absl::StatusOr<std::vector<OutboxEntry>> After(uint64_t after, size_t max_records,
                                                 size_t max_bytes) override {
    absl::MutexLock lock(&mu_);
    std::vector<OutboxEntry> out;
    sqlite3_stmt* s = after_->get();
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(after));
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(max_records));
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      OutboxEntry e;
      e.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      e.record.assign(static_cast<const char*>(sqlite3_column_blob(s, 1)),
                      static_cast<size_t>(sqlite3_column_bytes(s, 1)));
      e.added = absl::FromUnixMillis(sqlite3_column_int64(s, 2));
      bytes += e.record.size();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(std::move(e));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("read");
    return out;
  }

  absl::StatusOr<std::vector<uint64_t>> Settle(
      const std::vector<OutboxCommitted>& committed,
      const std::vector<OutboxRejection>& rejected) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_SQL(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr));
    uint64_t removed = 0;
    std::vector<uint64_t> settled;
    auto remove = [&](uint64_t seq, const std::string& txn_id) {
      sqlite3_stmt* s = remove_->get();
      sqlite3_bind_int64(s, 1, static_cast<int64_t>(seq));
      sqlite3_bind_text(s, 2, txn_id.data(), static_cast<int>(txn_id.size()), SQLITE_STATIC);
      const int rc = sqlite3_step(s);
      sqlite3_reset(s);
      if (rc == SQLITE_DONE && sqlite3_changes(db_) > 0) {
        removed += static_cast<uint64_t>(sqlite3_changes(db_));
        settled.push_back(seq);
      }
      return rc == SQLITE_DONE;
    };
    bool ok = true;
    for (const OutboxCommitted& c : committed) ok = ok && remove(c.seq, c.txn_id);
    for (const OutboxRejection& r : rejected) {
      const uint64_t before = removed;
      ok = ok && remove(r.seq, r.txn_id);
      if (!ok || removed == before) continue;  // a repeated ack: recorded already
      sqlite3_stmt* s = reject_->get();
      sqlite3_bind_int64(s, 1, static_cast<int64_t>(r.seq));
      sqlite3_bind_text(s, 2, r.txn_id.data(), static_cast<int>(r.txn_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 3, r.field.data(), static_cast<int>(r.field.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 4, r.reason.data(), static_cast<int>(r.reason.size()), SQLITE_STATIC);
      ok = sqlite3_step(s) == SQLITE_DONE;
      sqlite3_reset(s);
    }
    if (ok && !rejected.empty()) {
      ok = sqlite3_exec(db_,
                        absl::StrCat("DELETE FROM rejected WHERE id <= (SELECT max(id) FROM "
                                     "rejected) - ",
                                     kRejectedKept)
                            .c_str(),
                        nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    if (!ok) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return Error("settle");
    }
    RETURN_IF_SQL(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr));
    size_ -= std::min(size_, removed);
    return settled;
  }

  std::vector<OutboxRejection> Rejected() override {
    absl::MutexLock lock(&mu_);
    std::vector<OutboxRejection> out;
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT seq, txn_id, field, reason FROM rejected ORDER BY id DESC", -1,
                       &s, nullptr);
    while (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
      out.push_back(OutboxRejection{static_cast<uint64_t>(sqlite3_column_int64(s, 0)),
                                    reinterpret_cast<const char*>(sqlite3_column_text(s, 1)),
                                    reinterpret_cast<const char*>(sqlite3_column_text(s, 2)),
                                    reinterpret_cast<const char*>(sqlite3_column_text(s, 3))});
    }
    sqlite3_finalize(s);
    return out;
  }

  uint64_t size() override {
    absl::MutexLock lock(&mu_);
    return size_;
  }
  uint64_t capacity() const override { return capacity_; }

  std::optional<absl::Time> oldest() override {
    absl::MutexLock lock(&mu_);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT min(added) FROM outbox", -1, &s, nullptr);
    std::optional<absl::Time> t;
    if (s != nullptr && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
      t = absl::FromUnixMillis(sqlite3_column_int64(s, 0));
    }
    sqlite3_finalize(s);
    return t;
  }

 private:
  absl::Status Error(absl::string_view what) {
    return absl::DataLossError(absl::StrCat("outbox: ", what, ": ", sqlite3_errmsg(db_)));
  }

  sqlite3* db_;
  const uint64_t capacity_;
  Env& env_;
  absl::Mutex mu_;
  uint64_t size_ = 0;
  std::unique_ptr<Stmt> insert_, find_, after_, remove_, reject_;
};

class MemoryOutbox final : public Outbox {
 public:
  MemoryOutbox(uint64_t capacity, Env& env) : capacity_(capacity), env_(env) {}

  absl::StatusOr<std::vector<OutboxAdd>> AddAll(
      const std::vector<std::pair<std::string, std::string>>& records) override {
    absl::MutexLock lock(&mu_);
    size_t fresh = 0;
    for (const auto& r : records) fresh += by_id_.count(r.first) == 0 ? 1 : 0;
    if (entries_.size() + fresh > capacity_) return ResourceFull(capacity_);
    std::vector<OutboxAdd> out;
    for (const auto& [txn_id, record] : records) {
      if (auto it = by_id_.find(txn_id); it != by_id_.end()) {
        out.push_back(OutboxAdd{it->second, true});
        continue;
      }
      const uint64_t seq = ++last_seq_;
      entries_.emplace(seq, Item{txn_id, OutboxEntry{seq, record, env_.Now()}});
      by_id_.emplace(txn_id, seq);
      out.push_back(OutboxAdd{seq, false});
    }
    return out;
  }

  absl::StatusOr<std::vector<OutboxEntry>> After(uint64_t after, size_t max_records,
                                                 size_t max_bytes) override {
    absl::MutexLock lock(&mu_);
    std::vector<OutboxEntry> out;
    size_t bytes = 0;
    for (auto it = entries_.upper_bound(after); it != entries_.end() && out.size() < max_records;
         ++it) {
      bytes += it->second.entry.record.size();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(it->second.entry);
    }
    return out;
  }

  absl::StatusOr<std::vector<uint64_t>> Settle(
      const std::vector<OutboxCommitted>& committed,
      const std::vector<OutboxRejection>& rejected) override {
    absl::MutexLock lock(&mu_);
    std::vector<uint64_t> settled;
    auto remove = [&](uint64_t seq, const std::string& txn_id) {
      auto it = entries_.find(seq);
      if (it == entries_.end() || it->second.txn_id != txn_id) return false;
      by_id_.erase(it->second.txn_id);
      entries_.erase(it);
      settled.push_back(seq);
      return true;
    };
    for (const OutboxCommitted& c : committed) remove(c.seq, c.txn_id);
    for (const OutboxRejection& r : rejected) {
      if (!remove(r.seq, r.txn_id)) continue;
      rejected_.push_front(r);
      if (rejected_.size() > kRejectedKept) rejected_.pop_back();
    }
    return settled;
  }

  std::vector<OutboxRejection> Rejected() override {
    absl::MutexLock lock(&mu_);
    return {rejected_.begin(), rejected_.end()};
  }
  uint64_t size() override {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }
  uint64_t capacity() const override { return capacity_; }
  std::optional<absl::Time> oldest() override {
    absl::MutexLock lock(&mu_);
    if (entries_.empty()) return std::nullopt;
    return entries_.begin()->second.entry.added;
  }

 private:
  struct Item {
    std::string txn_id;
    OutboxEntry entry;
  };
  const uint64_t capacity_;
  Env& env_;
  absl::Mutex mu_;
  uint64_t last_seq_ = 0;
  std::map<uint64_t, Item> entries_;
  std::map<std::string, uint64_t> by_id_;
  std::deque<OutboxRejection> rejected_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Outbox>> OpenSqliteOutbox(const std::string& path, uint64_t capacity,
                                                         Env& env) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::DataLossError(absl::StrCat("outbox ", path, ": ", why));
  }
  sqlite3_busy_timeout(db, 5000);
  auto outbox = std::make_unique<SqliteOutbox>(db, capacity, env);
  if (absl::Status s = outbox->Init(); !s.ok()) return s;
  return outbox;
}

std::unique_ptr<Outbox> NewMemoryOutbox(uint64_t capacity, Env& env) {
  return std::make_unique<MemoryOutbox>(capacity, env);
}

}  // namespace posfleet::agent

#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace posfleet::store {

// Translates the exception thrown by libpqxx (or anything else) into a Status, once, following
// abseil's retry rule: broken connection / in-doubt commit -> Unavailable, serialization failure
// and deadlock -> Aborted, unique violation -> AlreadyExists, foreign-key violation ->
// FailedPrecondition, insufficient privilege -> PermissionDenied, a statement cancelled by its
// timeout -> DeadlineExceeded, anything else -> Internal.
absl::Status StatusFromCurrentException();

// A bounded pool of connections to one database URL. The URL is a libpq URL or keyword string and
// may list several hosts with target_session_attrs=read-write (how a Patroni cluster is reached):
// libpq picks the primary at each connect, so after a failover new connections find the new one.
class PgPool {
 public:
  // `size` connections at most; they are opened lazily. A statement running longer than
  // `statement_timeout` (zero: no limit) is cancelled by PostgreSQL and its call answers
  // DeadlineExceeded: no single query holds a connection for long, whatever a caller asks.
  PgPool(std::string url, int size, absl::Duration statement_timeout = absl::ZeroDuration());
  ~PgPool();

  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  using Body = std::function<absl::Status(pqxx::transaction_base&)>;

  // Runs `body` in a read-write transaction and commits if it returns OK (rolls back otherwise).
  // Retries the whole transaction on serialization failures and deadlocks, and once on a
  // connection that broke before commit (a pooled connection that died while idle).
  absl::Status Transact(const Body& body);

  // Runs `body`, which must only read with a single statement, in autocommit mode: one round trip
  // instead of three (BEGIN, the query, COMMIT). Retried once on a connection that died idle.
  absl::Status Read(const Body& body);

  // Runs `work` as one transaction that every Transact and Read of this pool on this thread joins
  // while it runs (core::UnitOfWork): each joins as a savepoint, so one that fails rolls back only
  // its own statements. Commits when `work` returns OK. Retried whole like Transact, so `work` must
  // be free of side effects outside the database.
  absl::Status Unit(const std::function<absl::Status()>& work);

  // Checks that the database answers (for health reporting).
  absl::Status Ping();

 private:
  template <typename Txn>
  absl::Status Run(const Body& body, int attempts);
  // Runs `body` in a savepoint of the unit of work this thread is in.
  absl::Status Join(const Body& body);
  // The transaction of the unit of work this thread runs on this pool, or null.
  pqxx::transaction_base* Ambient() const;
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  // Closes every idle connection (after one was found broken).
  void DropIdle();

  const std::string url_;
  const int size_;
  const absl::Duration statement_timeout_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace posfleet::store

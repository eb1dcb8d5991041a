#include "server/store/pg_pool.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace posfleet::store {
namespace {

// The transaction of the unit of work this thread is running, its pool, and how many savepoints
// deep the calls inside it are.
struct AmbientTxn {
  const PgPool* pool = nullptr;
  pqxx::transaction_base* txn = nullptr;
  int depth = 0;
};
thread_local AmbientTxn t_ambient;

// Sets this thread's ambient transaction for its lifetime, then restores the one before.
class AmbientScope {
 public:
  AmbientScope(const PgPool* pool, pqxx::transaction_base* txn) : saved_(t_ambient) {
    t_ambient = {pool, txn, 0};
  }
  ~AmbientScope() { t_ambient = saved_; }
  AmbientScope(const AmbientScope&) = delete;
  AmbientScope& operator=(const AmbientScope&) = delete;

 private:
  const AmbientTxn saved_;
};

}  // namespace

absl::Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnavailableError(
        absl::StrCat("database: connection lost during commit; outcome unknown: ", e.what()));
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(absl::StrCat("database unavailable: ", e.what()));
  } catch (const pqxx::serialization_failure& e) {
    return absl::AbortedError(absl::StrCat("database: serialization failure, retry: ", e.what()));
  } catch (const pqxx::deadlock_detected& e) {
    return absl::AbortedError(absl::StrCat("database: deadlock, retry: ", e.what()));
  } catch (const pqxx::unique_violation& e) {
    return absl::AlreadyExistsError(e.what());
  } catch (const pqxx::foreign_key_violation& e) {
    return absl::FailedPreconditionError(e.what());
  } catch (const pqxx::insufficient_privilege& e) {
    return absl::PermissionDeniedError(e.what());
  } catch (const pqxx::sql_error& e) {
    // A read-only standby answers writes with this SQLSTATE: the primary moved.
    if (e.sqlstate() == "25006") {
      return absl::UnavailableError(absl::StrCat("database is read-only (failover?): ", e.what()));
    }
    // Admin shutdown / crash recovery in progress: retryable.
    if (e.sqlstate() == "57014") {
      return absl::DeadlineExceededError(
          "the database gave up the query at the statement timeout: narrow the request (a "
          "tighter filter, a smaller page)");
    }
    if (e.sqlstate().rfind("57P", 0) == 0) {
      return absl::UnavailableError(absl::StrCat("database unavailable: ", e.what()));
    }
    spdlog::error("database error {}: {}", e.sqlstate(), e.what());
    return absl::InternalError(absl::StrCat("database error ", e.sqlstate()));
  } catch (const std::exception& e) {
    spdlog::error("unexpected error in store: {}", e.what());
    return absl::InternalError(absl::StrCat("internal error: ", e.what()));
  }
}

PgPool::PgPool(std::string url, int size, absl::Duration statement_timeout)
    : url_(std::move(url)), size_(size), statement_timeout_(statement_timeout) {}

PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    auto can_take = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < size_;
    };
    mu_.Await(absl::Condition(&can_take));
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
  }
  try {
    auto conn = std::make_unique<pqxx::connection>(url_);
    if (statement_timeout_ > absl::ZeroDuration()) {
      // Kept by libpqxx across reconnects of this connection.
      conn->set_variable("statement_timeout",
                         std::to_string(absl::ToInt64Milliseconds(statement_timeout_)));
    }
    return conn;
  } catch (...) {
    absl::MutexLock lock(&mu_);
    --open_;
    return StatusFromCurrentException();
  }
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<pqxx::connection>> dropped;
  {
    absl::MutexLock lock(&mu_);
    open_ -= static_cast<int>(idle_.size());
    dropped.swap(idle_);
  }
  // Closed outside the lock: closing a dead socket can take a moment.
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  absl::MutexLock lock(&mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
}

template <typename Txn>
absl::Status PgPool::Run(const Body& body, int attempts) {
  absl::Status last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    bool connection_broke = false;
    try {
      Txn txn(**conn);
      last = body(txn);
      if (last.ok()) txn.commit();
    } catch (const pqxx::in_doubt_error&) {
      // Never retry: the first attempt may have committed.
      last = StatusFromCurrentException();
      connection_broke = true;
      attempt = attempts;
    } catch (const pqxx::broken_connection&) {
      last = StatusFromCurrentException();
      connection_broke = true;
    } catch (...) {
      last = StatusFromCurrentException();
    }
    if (connection_broke) {
      conn->reset();
      // One pooled connection found dead means the server went away (a restart, a failover):
      // the other idle ones are dead too, and the retry must not draw one of them.
      DropIdle();
    }
    Release(std::move(*conn));
    const bool retry = absl::IsAborted(last) || (connection_broke && attempt < 2);
    if (!retry) return last;
  }
  return last;
}

pqxx::transaction_base* PgPool::Ambient() const {
  return t_ambient.pool == this ? t_ambient.txn : nullptr;
}

absl::Status PgPool::Join(const Body& body) {
  // Savepoints by hand: libpqxx 6's subtransaction issues its SAVEPOINT lazily, on the first
  // exec(), so a body that uses exec_params() would run without one.
  pqxx::transaction_base& txn = *Ambient();
  const std::string name = absl::StrCat("posfleet_unit_", ++t_ambient.depth);
  absl::Status status;
  try {
    txn.exec0("SAVEPOINT " + name);
    try {
      status = body(txn);
    } catch (...) {
      status = StatusFromCurrentException();
    }
    // A failed part is undone alone (its failed statement included), so the unit may go on.
    txn.exec0((status.ok() ? "RELEASE SAVEPOINT " : "ROLLBACK TO SAVEPOINT ") + name);
  } catch (...) {
    if (status.ok()) status = StatusFromCurrentException();
  }
  --t_ambient.depth;
  return status;
}

absl::Status PgPool::Transact(const Body& body) {
  if (Ambient() != nullptr) return Join(body);
  return Run<pqxx::work>(body, 4);
}

absl::Status PgPool::Read(const Body& body) {
  if (Ambient() != nullptr) return Join(body);
  return Run<pqxx::nontransaction>(body, 2);
}

absl::Status PgPool::Unit(const std::function<absl::Status()>& work) {
  if (Ambient() != nullptr) {
    // A unit inside a unit is a part of it.
    return Join([&](pqxx::transaction_base&) { return work(); });
  }
  return Run<pqxx::work>(
      [&](pqxx::transaction_base& txn) {
        AmbientScope scope(this, &txn);
        return work();
      },
      4);
}

absl::Status PgPool::Ping() {
  return Read([](pqxx::transaction_base& txn) {
    txn.exec("SELECT 1");
    return absl::OkStatus();
  });
}

}  // namespace posfleet::store

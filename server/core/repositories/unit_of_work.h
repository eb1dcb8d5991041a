#pragma once

// One core function over several repositories in one database transaction (issue 17, item 1).
//
// Inside `Run`, every repository call the work makes on the calling thread joins one transaction:
// the work loads (LockTerminal and the like hold their row locks until the end), decides, and
// writes; the whole commits when the work returns OK and rolls back when it returns an error. A
// repository call that fails inside rolls back only its own part (a savepoint), so the work may
// carry on after a refusal it expected, but it must return any Aborted or Unavailable it gets.
//
// The work may run more than once: the store retries it whole after a serialization failure or a
// deadlock. So it has no side effect outside the repositories (nothing published, sent or logged
// as done) and keeps its results in variables it sets afresh each run.

#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace posfleet::core {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;
  virtual absl::Status Run(const std::function<absl::Status()>& work) = 0;
};

// Run for a function returning a value.
template <typename T, typename Work>
absl::StatusOr<T> RunFor(UnitOfWork& unit, Work&& work) {
  std::optional<T> out;
  absl::Status status = unit.Run([&]() -> absl::Status {
    out.reset();
    absl::StatusOr<T> result = work();
    if (!result.ok()) return result.status();
    out = *std::move(result);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return *std::move(out);
}

}  // namespace posfleet::core

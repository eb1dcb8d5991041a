#pragma once

// What every repository of core shares (issue 17). A repository is the storage of one aggregate;
// each mutating method is one database transaction that also appends the given audit entry, so an
// audit row exists exactly when the change committed, and a Mutation lets core decide on the row
// loaded under its lock inside that transaction (load, decide, write).
//
// Errors follow abseil's retry rule: Unavailable (database unreachable; retry), Aborted
// (serialization failure or deadlock after the store's own retries), NotFound (no such row in
// the scope), AlreadyExists (unique constraint), FailedPrecondition (a row still refers to it).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace posfleet::core {

// Changes a row loaded under a row lock. Returns the audit summary of the change, or an error to
// roll back (nothing is written then).
template <typename T>
using Mutation = std::function<absl::StatusOr<std::string>(T&)>;

// Rows after a keyset position. `limit` rows at most; `more` tells whether another page exists.
struct Window {
  int64_t after = 0;
  int limit = 100;
};

template <typename T>
struct Slice {
  std::vector<T> items;
  int64_t last = 0;  // position of the last item, the `after` of the next window
  bool more = false;
};

}  // namespace posfleet::core

#pragma once

// Debian's Abseil 20220623 ships absl::Status but not the RETURN_IF_ERROR / ASSIGN_OR_RETURN
// macros, so we define the two here, once, for the whole project.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define POSFLEET_CONCAT_INNER_(a, b) a##b
#define POSFLEET_CONCAT_(a, b) POSFLEET_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    ::absl::Status posfleet_status_ = (expr);            \
    if (!posfleet_status_.ok()) return posfleet_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` assigns the value of an absl::StatusOr<T> or returns its
// status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  POSFLEET_ASSIGN_OR_RETURN_IMPL_(POSFLEET_CONCAT_(posfleet_statusor_, __LINE__), lhs, expr)

#define POSFLEET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

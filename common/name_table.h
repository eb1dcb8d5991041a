#pragma once

// Enum <-> name tables: a constexpr array of (value, name) pairs, looked up both ways. The one
// place for the loops every such table needs (roles, terminal states, transaction types, ...).

#include <array>
#include <cstddef>
#include <optional>
#include <utility>

#include "absl/strings/string_view.h"

namespace posfleet {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, absl::string_view>, N>;

// The name of `value`, or nullopt if the table has none.
template <typename E, size_t N>
constexpr std::optional<absl::string_view> NameIn(const NameTable<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return std::nullopt;
}

// The value named `name`, or nullopt.
template <typename E, size_t N>
constexpr std::optional<E> ValueIn(const NameTable<E, N>& table, absl::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace posfleet

#pragma once

// Keyset windows over the fake's rows, shared by every file of MemoryStore.

#include <algorithm>

#include "server/core/types.h"

namespace posfleet::testing::fake_rows {

// The first `limit` of `rows` (in keyset order) with `position` of each.
template <typename T, typename Rows, typename Position>
core::Slice<T> SliceOf(const Rows& rows, const core::Window& window, Position position) {
  core::Slice<T> slice;
  for (const auto& row : rows) {
    if (static_cast<int>(slice.items.size()) == window.limit) {
      slice.more = true;
      break;
    }
    slice.items.push_back(row.second);
    slice.last = position(row);
  }
  return slice;
}

// (seq, row) pairs in keyset order.
template <typename Pairs>
void SortBySeq(Pairs& rows) {
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace posfleet::testing::fake_rows

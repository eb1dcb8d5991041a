#pragma once

#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "server/core/page_token.h"
#include "server/core/repositories/repository.h"

namespace posfleet::core {

// One keyset page of a listing: checks the page size, decodes `page_token` for the filters in
// `filter_key`, fetches the rows (`fetch(const Window&)` returns absl::StatusOr<Slice<T>>) and
// issues the token that continues after them. Every List method of the registries goes through
// here, so page sizes and tokens behave the same everywhere.
template <typename T, typename Fetch>
absl::StatusOr<Page<T>> FetchPage(absl::string_view filter_key, int page_size,
                                  absl::string_view page_token, Fetch&& fetch) {
  Window window;
  ASSIGN_OR_RETURN(window.limit, NormalizePageSize(page_size));
  ASSIGN_OR_RETURN(window.after, DecodePageToken(page_token, filter_key));
  ASSIGN_OR_RETURN(Slice<T> slice, fetch(window));
  Page<T> page{std::move(slice.items), ""};
  if (slice.more) page.next_page_token = EncodePageToken(slice.last, filter_key);
  return page;
}

}  // namespace posfleet::core

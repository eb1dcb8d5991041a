#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/posfleetctl/context.h"

namespace posfleet::ctl {

void AddTerminalCommands(CLI::App& app, Context& ctx);       // terminals
void AddFleetCommands(CLI::App& app, Context& ctx);          // fleet summary
void AddOrgCommands(CLI::App& app, Context& ctx);            // merchants, tenants
void AddTokenCommands(CLI::App& app, Context& ctx);          // tokens, audit
void AddTxnCommands(CLI::App& app, Context& ctx);            // txns, report
void AddConfigCommands(CLI::App& app, Context& ctx);         // config
void AddTerminalsImport(CLI::App* terminals, Context& ctx);  // terminals import

// Fetches pages of a list call into `all` until `limit` items (0: no limit) or the last page.
// `items` returns the repeated field of a response. Returns false after reporting an error.
template <typename Req, typename Resp, typename Rpc, typename Items>
bool FetchPages(Context& ctx, Req req, int limit, Rpc rpc, Items items, Resp* all) {
  while (true) {
    const int have = items(*all)->size();
    req.set_page_size(limit == 0 ? 1000 : std::min(1000, limit - have));
    Resp page;
    grpc::Status status = rpc(ctx.Call().get(), req, &page);
    if (Context::NeedsTenant(status) && ctx.FillOnlyTenant(req)) {
      status = rpc(ctx.Call().get(), req, &page);
    }
    if (!ctx.Check(status)) return false;
    for (auto& item : *items(page)) *items(*all)->Add() = std::move(item);
    all->set_next_page_token(page.next_page_token());
    req.set_page_token(page.next_page_token());
    if (req.page_token().empty() || (limit != 0 && items(*all)->size() >= limit)) break;
  }
  if (!all->next_page_token().empty() && ctx.format() == Format::kTable) {
    std::cerr << "(more results: raise --limit, or --limit 0 for all)\n";
  }
  return true;
}

// A time flag: RFC 3339 ("2026-11-21T10:00:00Z") or a duration back from now ("2h", "30m",
// "7d"). Reports a usage error naming `flag` and returns false when it is neither.
bool ParseWhen(Context& ctx, const std::string& flag, const std::string& text,
               google::protobuf::Timestamp* out);

// Adds the --limit flag every list verb shares.
inline void AddLimit(CLI::App* cmd, int* limit) {
  cmd->add_option("--limit", *limit, "show at most this many (0: all)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace posfleet::ctl

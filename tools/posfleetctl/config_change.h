#pragma once

// What the `posfleetctl config` verbs share: how a change is sent and shown, and the flags every
// change takes. Used by config_commands.cc and config_schema_commands.cc only.

#include <optional>
#include <string>

#include "posfleet/v1/config.grpc.pb.h"
#include "tools/posfleetctl/commands.h"

namespace posfleet::ctl {

// "merchant mer_1"; the default and tenant layers by their kind alone.
std::string LayerText(v1::LayerKind kind, const std::string& id);
// A value in quotes, or "(none)".
std::string Shown(const std::optional<std::string>& v);
// A change's result: the revision, what it changed, a sample diff; with a dry run, how to commit
// exactly what it showed.
void PrintChange(Context& ctx, const v1::ConfigChangeResult& r);
// -m/--message, --dry-run and --if-revision, which every change takes.
void AddChangeFlags(CLI::App* cmd, std::string* message, bool* dry_run, uint64_t* if_revision);

// Sends a change with what -m, --dry-run and --if-revision (AddChangeFlags) said, and prints its
// result. An --if-revision of 0 leaves the one the request already carries.
template <typename Req>
void SendChange(Context& ctx,
                grpc::Status (v1::ConfigService::Stub::*rpc)(grpc::ClientContext*, const Req&,
                                                             v1::ConfigChangeResult*),
                Req& req, const std::string& message, bool dry_run, uint64_t if_revision) {
  req.set_message(message);
  req.set_dry_run(dry_run);
  if (if_revision != 0) req.set_if_revision(if_revision);
  v1::ConfigChangeResult resp;
  if (!ctx.Check(ctx.Invoke(ctx.config(), rpc, req, &resp))) return;
  PrintChange(ctx, resp);
}

// config schema get|set|rename|remove (config_schema_commands.cc).
void AddConfigSchemaCommands(CLI::App* config, Context& ctx);

}  // namespace posfleet::ctl

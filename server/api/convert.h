#pragma once

// protobuf <-> core translation. The only place that knows both shapes.

#include <grpcpp/grpcpp.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "google/protobuf/timestamp.pb.h"
#include "posfleet/v1/audit.pb.h"
#include "posfleet/v1/merchant.pb.h"
#include "posfleet/v1/tenant.pb.h"
#include "posfleet/v1/terminal.pb.h"
#include "posfleet/v1/token.pb.h"
#include "server/core/store.h"
#include "server/core/terminal_registry.h"
#include "server/core/types.h"

namespace posfleet::api {

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
std::optional<absl::Time> FromProto(const google::protobuf::Timestamp& ts, bool has);

v1::Role ToProto(core::Role role);
std::optional<core::Role> FromProto(v1::Role role);
v1::TerminalState ToProto(core::TerminalState state);
std::optional<core::TerminalState> FromProto(v1::TerminalState state);

void ToProto(const core::Health& h, v1::TerminalHealth* out);
void ToProto(const core::HealthSample& s, v1::HealthSample* out);
void ToProto(const core::Terminal& t, v1::Terminal* out);
core::TerminalSpec FromProto(const v1::TerminalSpec& spec);
void ToProto(const core::FleetSummary& s, v1::FleetSummary* out);
void ToProto(const core::Merchant& m, v1::Merchant* out);
void ToProto(const core::Tenant& t, v1::Tenant* out);
void ToProto(const core::Token& t, v1::Token* out);
void ToProto(const core::AuditEntry& e, v1::AuditEntry* out);
void ToProto(const core::BatchItemResult& r, int index, v1::BatchCreateResult* out);

}  // namespace posfleet::api

#include "server/api/convert.h"

namespace posfleet::api {

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

std::optional<absl::Time> FromProto(const google::protobuf::Timestamp& ts, bool has) {
  if (!has) return std::nullopt;
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

v1::Role ToProto(core::Role role) {
  switch (role) {
    case core::Role::kAdmin:
      return v1::ROLE_ADMIN;
    case core::Role::kOperator:
      return v1::ROLE_OPERATOR;
    case core::Role::kTechnician:
      return v1::ROLE_TECHNICIAN;
    case core::Role::kViewer:
      return v1::ROLE_VIEWER;
    case core::Role::kTerminal:
      return v1::ROLE_TERMINAL;
  }
  return v1::ROLE_UNSPECIFIED;
}

std::optional<core::Role> FromProto(v1::Role role) {
  switch (role) {
    case v1::ROLE_ADMIN:
      return core::Role::kAdmin;
    case v1::ROLE_OPERATOR:
      return core::Role::kOperator;
    case v1::ROLE_TECHNICIAN:
      return core::Role::kTechnician;
    case v1::ROLE_VIEWER:
      return core::Role::kViewer;
    case v1::ROLE_TERMINAL:
      return core::Role::kTerminal;
    default:
      return std::nullopt;
  }
}

v1::TerminalState ToProto(core::TerminalState state) {
  switch (state) {
    case core::TerminalState::kProvisioned:
      return v1::TERMINAL_STATE_PROVISIONED;
    case core::TerminalState::kActive:
      return v1::TERMINAL_STATE_ACTIVE;
    case core::TerminalState::kSuspended:
      return v1::TERMINAL_STATE_SUSPENDED;
    case core::TerminalState::kRetired:
      return v1::TERMINAL_STATE_RETIRED;
  }
  return v1::TERMINAL_STATE_UNSPECIFIED;
}

std::optional<core::TerminalState> FromProto(v1::TerminalState state) {
  switch (state) {
    case v1::TERMINAL_STATE_PROVISIONED:
      return core::TerminalState::kProvisioned;
    case v1::TERMINAL_STATE_ACTIVE:
      return core::TerminalState::kActive;
    case v1::TERMINAL_STATE_SUSPENDED:
      return core::TerminalState::kSuspended;
    case v1::TERMINAL_STATE_RETIRED:
      return core::TerminalState::kRetired;
    default:
      return std::nullopt;
  }
}

void ToProto(const core::Health& h, v1::TerminalHealth* out) {
  out->set_battery_percent(h.battery_percent);
  out->set_charging(h.charging);
  out->set_temperature_c(h.temperature_c);
  out->set_paper(h.paper);
  out->set_signal_dbm(h.signal_dbm);
  out->set_network(h.network);
  out->set_storage_free_bytes(static_cast<uint64_t>(h.storage_free_bytes));
  out->set_uptime_seconds(static_cast<uint64_t>(h.uptime_seconds));
  for (const auto& [k, v] : h.versions) (*out->mutable_versions())[k] = v;
}

void ToProto(const core::HealthSample& s, v1::HealthSample* out) {
  ToProto(s.time, out->mutable_time());
  out->set_session(static_cast<uint64_t>(s.session));
  ToProto(s.health, out->mutable_health());
}

void ToProto(const core::Terminal& t, v1::Terminal* out) {
  out->set_id(t.id);
  out->set_tenant_id(t.tenant_id);
  out->set_merchant_id(t.merchant_id);
  out->set_vendor(t.vendor);
  out->set_model(t.model);
  out->set_serial(t.serial);
  out->set_tid(t.tid);
  for (const auto& [key, value] : t.labels) (*out->mutable_labels())[key] = value;
  out->set_state(ToProto(t.state));
  if (t.presence) {
    v1::Presence* p = out->mutable_presence();
    p->set_online(t.presence->online);
    ToProto(t.presence->last_seen, p->mutable_last_seen());
    ToProto(t.presence->change_time, p->mutable_change_time());
    p->set_session(static_cast<uint64_t>(t.presence->session));
    p->set_agent_version(t.presence->agent_version);
    if (t.presence->health) ToProto(*t.presence->health, p->mutable_health());
  }
  ToProto(t.create_time, out->mutable_create_time());
  ToProto(t.update_time, out->mutable_update_time());
}

core::TerminalSpec FromProto(const v1::TerminalSpec& spec) {
  core::TerminalSpec s;
  s.merchant_id = spec.merchant_id();
  s.vendor = spec.vendor();
  s.model = spec.model();
  s.serial = spec.serial();
  s.tid = spec.tid();
  s.labels = core::Labels(spec.labels().begin(), spec.labels().end());
  return s;
}

void ToProto(const core::Merchant& m, v1::Merchant* out) {
  out->set_id(m.id);
  out->set_tenant_id(m.tenant_id);
  out->set_name(m.name);
  out->set_mid(m.mid);
  out->set_country(m.country);
  ToProto(m.create_time, out->mutable_create_time());
  ToProto(m.update_time, out->mutable_update_time());
}

void ToProto(const core::Tenant& t, v1::Tenant* out) {
  out->set_id(t.id);
  out->set_name(t.name);
  ToProto(t.create_time, out->mutable_create_time());
  ToProto(t.update_time, out->mutable_update_time());
}

void ToProto(const core::Token& t, v1::Token* out) {
  out->set_id(t.id);
  out->set_name(t.name);
  out->set_role(ToProto(t.role));
  out->set_tenant_id(t.tenant_id);
  out->set_created_by(t.created_by);
  if (t.create_time != absl::Time()) ToProto(t.create_time, out->mutable_create_time());
  if (t.revoke_time) ToProto(*t.revoke_time, out->mutable_revoke_time());
}

void ToProto(const core::AuditEntry& e, v1::AuditEntry* out) {
  out->set_id(e.id);
  ToProto(e.time, out->mutable_time());
  out->set_actor_id(e.actor_id);
  out->set_actor_name(e.actor_name);
  out->set_role(ToProto(e.role));
  out->set_tenant_id(e.tenant_id);
  out->set_method(e.method);
  out->set_target_type(e.target_type);
  out->set_target_id(e.target_id);
  out->set_summary(e.summary);
  out->set_result(e.result);
}

void ToProto(const core::BatchItemResult& r, int index, v1::BatchCreateResult* out) {
  out->set_index(index);
  switch (r.outcome) {
    case core::BatchItemResult::Outcome::kCreated:
      out->set_outcome(v1::BatchCreateResult::OUTCOME_CREATED);
      break;
    case core::BatchItemResult::Outcome::kSkipped:
      out->set_outcome(v1::BatchCreateResult::OUTCOME_SKIPPED);
      break;
    case core::BatchItemResult::Outcome::kFailed:
      out->set_outcome(v1::BatchCreateResult::OUTCOME_FAILED);
      break;
  }
  out->set_terminal_id(r.terminal_id);
  out->set_field(r.field);
  out->set_error(r.error);
}

void ToProto(const core::FleetSummary& s, v1::FleetSummary* out) {
  out->set_terminals(s.terminals);
  out->mutable_by_state()->insert(s.by_state.begin(), s.by_state.end());
  out->set_online(s.online);
  out->set_offline(s.offline);
  out->set_never_seen(s.never_seen);
  out->mutable_by_model()->insert(s.by_model.begin(), s.by_model.end());
  for (const core::SoftwareCount& c : s.software) {
    v1::SoftwareCount* sc = out->add_software();
    sc->set_component(c.component);
    sc->set_version(c.version);
    sc->set_terminals(c.terminals);
  }
  out->set_battery_low(s.battery_low);
  out->set_paper_low(s.paper_low);
  out->set_paper_out(s.paper_out);
}

}  // namespace posfleet::api

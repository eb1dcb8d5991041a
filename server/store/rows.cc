#include "server/store/rows.h"

#include <nlohmann/json.hpp>

namespace posfleet::store {
namespace {

absl::Time TimeAt(const pqxx::field& f) { return absl::FromUnixMicros(f.as<int64_t>()); }

std::optional<absl::Time> OptionalTimeAt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return TimeAt(f);
}

core::Role RoleAt(const pqxx::field& f) {
  // The CHECK constraint guarantees a known role; viewer is the least privileged fallback.
  return core::ParseRole(f.c_str()).value_or(core::Role::kViewer);
}

// A versions object as stored (component -> version); non-string values are skipped.
std::map<std::string, std::string> VersionsFromJson(const char* json) {
  std::map<std::string, std::string> out;
  const nlohmann::json versions = nlohmann::json::parse(json);
  for (const auto& [k, v] : versions.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

core::Tenant TenantFromRow(const pqxx::row& r) {
  return core::Tenant{r[0].c_str(), r[1].c_str(), TimeAt(r[2]), TimeAt(r[3])};
}

core::Merchant MerchantFromRow(const pqxx::row& r) {
  return core::Merchant{r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(),
                        r[4].c_str(), TimeAt(r[5]), TimeAt(r[6])};
}

core::Terminal TerminalFromRow(const pqxx::row& r) {
  core::Terminal t;
  t.id = r[0].c_str();
  t.tenant_id = r[1].c_str();
  t.merchant_id = r[2].c_str();
  t.vendor = r[3].c_str();
  t.model = r[4].c_str();
  t.serial = r[5].c_str();
  t.tid = r[6].c_str();
  t.labels = LabelsFromJson(r[7].c_str());
  t.state = core::ParseState(r[8].c_str()).value_or(core::TerminalState::kSuspended);
  t.enroll_time = OptionalTimeAt(r[9]);
  t.create_time = TimeAt(r[10]);
  t.update_time = TimeAt(r[11]);
  if (r.size() > 13 && !r[12].is_null()) {
    core::Presence p;
    p.online = r[12].as<bool>();
    p.session = r[13].as<int64_t>();
    p.last_seen = TimeAt(r[14]);
    p.change_time = TimeAt(r[15]);
    p.agent_version = r[16].c_str();
    if (!r[23].is_null()) p.health = HealthFromRow(r, 17);
    t.presence = std::move(p);
  }
  return t;
}

core::Token TokenFromRow(const pqxx::row& r) {
  core::Token t;
  t.id = r[0].c_str();
  t.name = r[1].c_str();
  t.role = RoleAt(r[2]);
  t.tenant_id = r[3].c_str();
  t.created_by = r[4].c_str();
  t.create_time = TimeAt(r[5]);
  t.revoke_time = OptionalTimeAt(r[6]);
  return t;
}

core::AuditEntry AuditFromRow(const pqxx::row& r) {
  core::AuditEntry e;
  e.id = r[0].as<int64_t>();
  e.time = TimeAt(r[1]);
  e.actor_id = r[2].c_str();
  e.actor_name = r[3].c_str();
  e.role = RoleAt(r[4]);
  e.tenant_id = r[5].c_str();
  e.method = r[6].c_str();
  e.target_type = r[7].c_str();
  e.target_id = r[8].c_str();
  e.summary = r[9].c_str();
  e.result = r[10].c_str();
  return e;
}

core::Health HealthFromRow(const pqxx::row& r, int first) {
  core::Health h;
  h.battery_percent = r[first].as<int>();
  h.charging = r[first + 1].as<bool>();
  h.temperature_c = r[first + 2].as<int>();
  h.paper = r[first + 3].c_str();
  h.signal_dbm = r[first + 4].as<int>();
  h.network = r[first + 5].c_str();
  h.storage_free_bytes = r[first + 6].as<int64_t>();
  h.uptime_seconds = r[first + 7].as<int64_t>();
  h.versions = VersionsFromJson(r[first + 8].c_str());
  return h;
}

int64_t SeqOf(const pqxx::row& row) { return row[row.size() - 1].as<int64_t>(); }

core::Labels LabelsFromJson(const char* json) {
  core::Labels out;
  const nlohmann::json labels = nlohmann::json::parse(json);
  for (const auto& [key, value] : labels.items()) {
    out[key] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out;
}

std::string LabelsToJson(const core::Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, value] : labels) j[key] = value;
  return j.dump();
}

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

void InsertAudit(pqxx::transaction_base& txn, const core::AuditEntry& e) {
  static constexpr char kInsertAudit[] =
      "INSERT INTO audit_log (actor_id, actor_name, role, tenant_id, method, target_type, "
      "target_id, summary, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
  txn.exec_params(kInsertAudit, e.actor_id, e.actor_name, std::string(core::RoleName(e.role)),
                  e.tenant_id, e.method, e.target_type, e.target_id, e.summary, e.result);
}

std::unordered_set<std::string> RecordRefusedUplinks(pqxx::transaction_base& txn,
                                                     const std::vector<std::string>& ids) {
  static constexpr char kRefuse[] =
      "WITH inactive AS (SELECT id, tenant_id, state, uplink_refused_time FROM terminals "
      "WHERE id = ANY($1::text[]) AND state <> 'active'), "
      // The mark is tested on the row itself, not on the snapshot in `inactive`: two writers
      // (presence and transactions) refusing the same terminal at once both read it unset, and
      // only the row's recheck after the first one's commit lets just one of them audit.
      "flipped AS (UPDATE terminals t SET uplink_refused_time = now() FROM inactive i "
      "WHERE t.id = i.id AND t.uplink_refused_time IS NULL AND t.state <> 'active' "
      "RETURNING t.id, t.tenant_id, t.state), "
      "audited AS (INSERT INTO audit_log (actor_id, actor_name, role, tenant_id, method, "
      "target_type, target_id, summary, result) "
      "SELECT id, 'terminal link', 'terminal', tenant_id, 'Link.Uplink', 'terminal', id, "
      "'uplinks refused: the terminal is ' || state, 'PERMISSION_DENIED' FROM flipped "
      "RETURNING 1) "
      "SELECT id FROM inactive";  // the audit insert runs whether or not it is read
  std::unordered_set<std::string> inactive;
  if (ids.empty()) return inactive;
  for (const pqxx::row& r : txn.exec_params(kRefuse, PgTextArray(ids))) {
    inactive.insert(r[0].c_str());
  }
  return inactive;
}

}  // namespace posfleet::store

// Tenants and merchants.

#include "absl/strings/str_cat.h"
#include "server/store/pg_store.h"
#include "server/store/rows.h"

namespace posfleet::store {
namespace {

using core::AuditEntry;
using core::Merchant;
using core::Scope;
using core::Tenant;

const std::string kInsertTenant =
    absl::StrCat("INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING ", kTenantColumns);
const std::string kSelectTenant =
    absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE id = $1 AND ($2 = '' OR id = $2)");
const std::string kSelectTenantForUpdate =
    absl::StrCat("SELECT ", kTenantColumns, " FROM tenants WHERE id = $1 FOR UPDATE");
const std::string kListTenants =
    absl::StrCat("SELECT ", kTenantColumns,
                 " FROM tenants WHERE ($1 = '' OR id = $1) AND seq > $2 ORDER BY seq LIMIT $3");
const std::string kUpdateTenant = absl::StrCat(
    "UPDATE tenants SET name = $2, update_time = now() WHERE id = $1 RETURNING ", kTenantColumns);
constexpr char kDeleteTenant[] = "DELETE FROM tenants WHERE id = $1";

const std::string kInsertMerchant = absl::StrCat(
    "INSERT INTO merchants (id, tenant_id, name, mid, country) VALUES ($1, $2, $3, $4, $5) "
    "RETURNING ",
    kMerchantColumns);
const std::string kSelectMerchant = absl::StrCat(
    "SELECT ", kMerchantColumns, " FROM merchants WHERE id = $1 AND ($2 = '' OR tenant_id = $2)");
const std::string kSelectMerchantForUpdate = absl::StrCat(kSelectMerchant, " FOR UPDATE");
const std::string kListMerchants = absl::StrCat(
    "SELECT ", kMerchantColumns,
    " FROM merchants WHERE ($1 = '' OR tenant_id = $1) AND seq > $2 ORDER BY seq LIMIT $3");
const std::string kUpdateMerchant = absl::StrCat(
    "UPDATE merchants SET name = $2, country = $3, update_time = now() WHERE id = $1 RETURNING ",
    kMerchantColumns);
constexpr char kDeleteMerchant[] =
    "DELETE FROM merchants WHERE id = $1 AND ($2 = '' OR tenant_id = $2) RETURNING tenant_id";

absl::Status TenantNameTaken(absl::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat("a tenant named \"", name, "\" already exists"));
}

}  // namespace

absl::StatusOr<Tenant> PgStore::CreateTenant(const Tenant& tenant, AuditEntry audit) {
  return TransactFor<Tenant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Tenant> {
    try {
      Tenant created = TenantFromRow(txn.exec_params1(kInsertTenant, tenant.id, tenant.name));
      InsertAudit(txn, audit);
      return created;
    } catch (const pqxx::unique_violation&) {
      return TenantNameTaken(tenant.name);
    }
  });
}

absl::StatusOr<Tenant> PgStore::GetTenant(const Scope& scope, absl::string_view id) {
  return ReadFor<Tenant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Tenant> {
    pqxx::result r = txn.exec_params(kSelectTenant, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
    return TenantFromRow(r[0]);
  });
}

absl::StatusOr<core::Slice<Tenant>> PgStore::ListTenants(const Scope& scope,
                                                         const core::Window& window) {
  return ReadFor<core::Slice<Tenant>>(pool_, [&](pqxx::transaction_base& txn) {
    return SliceFrom<Tenant>(
        txn.exec_params(kListTenants, scope.tenant_id, window.after, window.limit + 1),
        window.limit, TenantFromRow);
  });
}

absl::StatusOr<Tenant> PgStore::UpdateTenant(absl::string_view id,
                                             const core::Mutation<Tenant>& mutate,
                                             AuditEntry audit) {
  return TransactFor<Tenant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Tenant> {
    pqxx::result r = txn.exec_params(kSelectTenantForUpdate, std::string(id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
    Tenant t = TenantFromRow(r[0]);
    absl::StatusOr<std::string> summary = mutate(t);
    if (!summary.ok()) return summary.status();
    try {
      Tenant updated = TenantFromRow(txn.exec_params1(kUpdateTenant, t.id, t.name));
      audit.tenant_id = t.id;
      audit.summary = *summary;
      InsertAudit(txn, audit);
      return updated;
    } catch (const pqxx::unique_violation&) {
      return TenantNameTaken(t.name);
    }
  });
}

absl::Status PgStore::DeleteTenant(absl::string_view id, AuditEntry audit) {
  return pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    try {
      if (txn.exec_params(kDeleteTenant, std::string(id)).affected_rows() == 0) {
        return absl::NotFoundError(absl::StrCat("tenant ", id, " not found"));
      }
    } catch (const pqxx::foreign_key_violation&) {
      return absl::FailedPreconditionError(
          absl::StrCat("tenant ", id, " still has merchants; delete them first"));
    }
    InsertAudit(txn, audit);
    return absl::OkStatus();
  });
}

absl::StatusOr<Merchant> PgStore::CreateMerchant(const Merchant& m, AuditEntry audit) {
  return TransactFor<Merchant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Merchant> {
    try {
      Merchant created = MerchantFromRow(
          txn.exec_params1(kInsertMerchant, m.id, m.tenant_id, m.name, m.mid, m.country));
      audit.tenant_id = created.tenant_id;
      InsertAudit(txn, audit);
      return created;
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(
          absl::StrCat("a merchant with mid ", m.mid, " already exists in this tenant"));
    } catch (const pqxx::foreign_key_violation&) {
      return absl::NotFoundError(absl::StrCat("tenant_id: tenant ", m.tenant_id, " not found"));
    }
  });
}

absl::StatusOr<Merchant> PgStore::GetMerchant(const Scope& scope, absl::string_view id) {
  return ReadFor<Merchant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Merchant> {
    pqxx::result r = txn.exec_params(kSelectMerchant, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
    return MerchantFromRow(r[0]);
  });
}

absl::StatusOr<core::Slice<Merchant>> PgStore::ListMerchants(const Scope& scope,
                                                             const core::Window& window) {
  return ReadFor<core::Slice<Merchant>>(pool_, [&](pqxx::transaction_base& txn) {
    return SliceFrom<Merchant>(
        txn.exec_params(kListMerchants, scope.tenant_id, window.after, window.limit + 1),
        window.limit, MerchantFromRow);
  });
}

absl::StatusOr<Merchant> PgStore::UpdateMerchant(const Scope& scope, absl::string_view id,
                                                 const core::Mutation<Merchant>& mutate,
                                                 AuditEntry audit) {
  return TransactFor<Merchant>(pool_, [&](pqxx::transaction_base& txn) -> absl::StatusOr<Merchant> {
    pqxx::result r = txn.exec_params(kSelectMerchantForUpdate, std::string(id), scope.tenant_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
    Merchant m = MerchantFromRow(r[0]);
    absl::StatusOr<std::string> summary = mutate(m);
    if (!summary.ok()) return summary.status();
    Merchant updated = MerchantFromRow(txn.exec_params1(kUpdateMerchant, m.id, m.name, m.country));
    audit.tenant_id = updated.tenant_id;
    audit.summary = *summary;
    InsertAudit(txn, audit);
    return updated;
  });
}

absl::Status PgStore::DeleteMerchant(const Scope& scope, absl::string_view id, AuditEntry audit) {
  return pool_.Transact([&](pqxx::transaction_base& txn) -> absl::Status {
    try {
      pqxx::result r = txn.exec_params(kDeleteMerchant, std::string(id), scope.tenant_id);
      if (r.empty()) return absl::NotFoundError(absl::StrCat("merchant ", id, " not found"));
      audit.tenant_id = r[0][0].c_str();
    } catch (const pqxx::foreign_key_violation&) {
      return absl::FailedPreconditionError(
          absl::StrCat("merchant ", id, " still has terminals; move or delete them first"));
    }
    InsertAudit(txn, audit);
    return absl::OkStatus();
  });
}

}  // namespace posfleet::store

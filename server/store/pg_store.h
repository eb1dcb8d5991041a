#pragma once

#include <memory>
#include <string>

#include "server/core/store.h"
#include "server/store/pg_pool.h"

namespace posfleet::store {

// core::Store on PostgreSQL. All SQL of posfleet lives in this directory, as named constants with
// $n parameters. Every method that changes data runs in one transaction with its audit row.
class PgStore final : public core::Store {
 public:
  explicit PgStore(PgPool& pool) : pool_(pool) {}

  // core::UnitOfWork: the calls `work` makes on this thread share one transaction.
  absl::Status Run(const std::function<absl::Status()>& work) override { return pool_.Unit(work); }

  absl::StatusOr<core::Tenant> CreateTenant(const core::Tenant& tenant,
                                            core::AuditEntry audit) override;
  absl::StatusOr<core::Tenant> GetTenant(const core::Scope& scope, absl::string_view id) override;
  absl::StatusOr<core::Slice<core::Tenant>> ListTenants(const core::Scope& scope,
                                                        const core::Window& window) override;
  absl::StatusOr<core::Tenant> UpdateTenant(absl::string_view id,
                                            const core::Mutation<core::Tenant>& mutate,
                                            core::AuditEntry audit) override;
  absl::Status DeleteTenant(absl::string_view id, core::AuditEntry audit) override;

  absl::StatusOr<core::Merchant> CreateMerchant(const core::Merchant& merchant,
                                                core::AuditEntry audit) override;
  absl::StatusOr<core::Merchant> GetMerchant(const core::Scope& scope,
                                             absl::string_view id) override;
  absl::StatusOr<core::Slice<core::Merchant>> ListMerchants(const core::Scope& scope,
                                                            const core::Window& window) override;
  absl::StatusOr<core::Merchant> UpdateMerchant(const core::Scope& scope, absl::string_view id,
                                                const core::Mutation<core::Merchant>& mutate,
                                                core::AuditEntry audit) override;
  absl::Status DeleteMerchant(const core::Scope& scope, absl::string_view id,
                              core::AuditEntry audit) override;

  absl::StatusOr<core::Terminal> CreateTerminal(const core::Scope& scope,
                                                const core::Terminal& terminal,
                                                core::AuditEntry audit) override;
  absl::StatusOr<std::vector<core::BatchItemResult>> CreateTerminals(
      const core::Scope& scope, const std::vector<core::Terminal>& terminals, bool all_or_nothing,
      const core::AuditEntry& audit) override;
  absl::StatusOr<core::Terminal> GetTerminal(const core::Scope& scope,
                                             absl::string_view id) override;
  absl::StatusOr<core::FleetSummary> SummarizeFleet(const core::TerminalFilter& filter) override;
  absl::StatusOr<core::Slice<core::Terminal>> ListTerminals(const core::TerminalFilter& filter,
                                                            const core::Window& window) override;
  absl::StatusOr<core::Terminal> LockTerminal(const core::Scope& scope,
                                              absl::string_view id) override;
  absl::StatusOr<core::Terminal> UpdateTerminal(const core::Scope& scope, absl::string_view id,
                                                const core::Mutation<core::Terminal>& mutate,
                                                core::AuditEntry audit) override;

  absl::StatusOr<core::Token> CreateToken(const core::Token& token, absl::string_view secret_hash,
                                          core::AuditEntry audit) override;
  absl::StatusOr<core::Slice<core::Token>> ListTokens(const core::Scope& scope,
                                                      bool include_revoked,
                                                      const core::Window& window) override;
  absl::StatusOr<core::Token> RevokeToken(const core::Scope& scope, absl::string_view id,
                                          core::AuditEntry audit) override;
  absl::StatusOr<core::Token> Authenticate(absl::string_view secret_hash) override;
  absl::StatusOr<bool> BootstrapAdmin(const core::Token& token, absl::string_view secret_hash,
                                      core::AuditEntry audit) override;

  absl::StatusOr<absl::Time> StoreActivationCode(const core::Scope& scope,
                                                 absl::string_view terminal_id,
                                                 absl::string_view code_hash, absl::Duration ttl,
                                                 core::AuditEntry audit) override;
  absl::StatusOr<core::Terminal> RedeemActivationCode(
      absl::string_view code_hash, absl::string_view vendor, absl::string_view serial,
      absl::string_view public_key_sha256, const CertificateIssuer& issue,
      std::optional<pki::Issued>& replayed, core::AuditEntry& audit) override;
  absl::StatusOr<core::Terminal> RenewCertificate(absl::string_view terminal_id,
                                                  absl::string_view current_serial,
                                                  absl::string_view public_key_sha256,
                                                  const CertificateIssuer& issue,
                                                  std::optional<pki::Issued>& replayed,
                                                  core::AuditEntry& audit) override;
  absl::StatusOr<pki::CertAndKey> LoadOrStoreCa(const pki::CertAndKey& candidate) override;
  absl::StatusOr<int> RevokeCertificates(absl::string_view terminal_id) override;
  absl::StatusOr<std::vector<pki::Revoked>> RevokedCertificates() override;
  absl::StatusOr<std::vector<core::LinkDisconnect>> PendingLinkDisconnects(size_t limit) override;
  absl::Status CompleteLinkDisconnects(const std::vector<core::LinkDisconnect>& done) override;

  absl::StatusOr<core::HistoryWritten> ApplyLinkReports(
      const std::vector<core::StatusReport>& statuses,
      const std::vector<core::HealthReport>& heartbeats, absl::Duration history_every) override;
  absl::StatusOr<core::Slice<core::HealthSample>> ListHealthHistory(
      const core::Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
      std::optional<absl::Time> end_time, const core::Window& window) override;
  absl::StatusOr<core::PartitionChanges> MaintainHealthHistory(absl::Time now, int days_ahead,
                                                               absl::Duration retention) override;
  absl::StatusOr<int> MarkSilentOffline(absl::Duration timeout) override;

  absl::StatusOr<core::IngestOutcome> IngestTransactions(
      const std::vector<core::Txn>& txns) override;
  absl::StatusOr<core::Slice<core::Txn>> ListTransactions(const core::TxnFilter& filter,
                                                          const core::Window& window) override;
  absl::StatusOr<std::vector<core::DailyTotal>> DailyTotals(
      const core::TxnReportFilter& filter) override;
  absl::StatusOr<core::Slice<core::SilentTerminal>> ListSilentTerminals(
      const core::Scope& scope, absl::string_view merchant_id, absl::Duration silent_for,
      const core::Window& window) override;
  absl::StatusOr<core::PartitionChanges> MaintainTransactions(absl::Time now, int months_ahead,
                                                              int retention_months) override;

  absl::StatusOr<core::ConfigHead> LoadConfig(const core::Scope& scope, absl::string_view tenant_id,
                                              int64_t revision) override;
  absl::StatusOr<core::ConfigCommit> CommitConfig(const core::Scope& scope,
                                                  absl::string_view tenant_id,
                                                  const core::ConfigChange& change, bool dry_run,
                                                  size_t sample, core::AuditEntry audit) override;
  absl::StatusOr<core::Slice<core::ConfigRevision>> ListConfigRevisions(
      const core::Scope& scope, absl::string_view tenant_id, const core::Window& window) override;
  absl::StatusOr<int64_t> RefreshDesiredConfig() override;
  absl::StatusOr<std::vector<core::ConfigClaim>> ClaimUnpublishedConfig(
      size_t limit, absl::Duration lease) override;
  absl::Status FinishConfigClaims(const std::vector<std::string>& claimed,
                                  const std::vector<core::PublishedSet>& published) override;
  absl::Status ApplyConfigReports(const std::vector<core::ConfigReportIn>& reports) override;
  absl::StatusOr<core::TerminalConfigStatus> GetTerminalConfig(
      const core::Scope& scope, absl::string_view terminal_id) override;
  absl::StatusOr<core::Slice<core::TerminalConfigStatus>> ListConfigDrift(
      const core::Scope& scope, absl::string_view tenant_id, std::optional<core::SyncState> state,
      const core::Window& window) override;
  absl::StatusOr<core::ConfigSyncCounts> CountConfigSync(const core::Scope& scope,
                                                         absl::string_view tenant_id) override;
  absl::StatusOr<core::ResealResult> ResealConfigSecrets(const core::ResealFn& reseal,
                                                         core::AuditEntry audit) override;

  absl::Status AppendAudit(const core::AuditEntry& entry) override;
  absl::StatusOr<core::Slice<core::AuditEntry>> ListAudit(const core::AuditFilter& filter,
                                                          const core::Window& window) override;

 private:
  PgPool& pool_;
};

}  // namespace posfleet::store

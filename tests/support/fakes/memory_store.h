#pragma once

// An in-memory implementation of core's repositories for organisation, terminals, tokens,
// enrollment, the audit log, presence, transactions and parameters, and of the unit of work (issue
// 17, item 2): core tests run on it without PostgreSQL, in milliseconds, with the Env's time as the
// database's now().
//
// It keeps the rules PgStore's SQL and constraints keep: scopes, uniqueness, keyset windows,
// one audit entry per committed change and none for a failed one, sessions that only move
// forward, refusal of inactive terminals, replay and conflict of transaction ids. The contract
// suite (tests/server/contract/) runs the same cases against both, so this cannot drift from the
// store. One mutex guards everything: each call is atomic, as one database transaction is.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/env.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/configuration.h"
#include "server/core/repositories/enrollment.h"
#include "server/core/repositories/organisation.h"
#include "server/core/repositories/presence.h"
#include "server/core/repositories/terminals.h"
#include "server/core/repositories/tokens.h"
#include "server/core/repositories/transactions.h"
#include "server/core/repositories/unit_of_work.h"

namespace posfleet::testing {

class MemoryStore final : public core::OrganisationRepository,
                          public core::TerminalRepository,
                          public core::TokenRepository,
                          public core::EnrollmentRepository,
                          public core::AuditLog,
                          public core::PresenceRepository,
                          public core::TransactionRepository,
                          public core::ConfigRepository,
                          public core::UnitOfWork {
 public:
  // Each call runs at the Env's time, as a transaction at the database's now(). With `tick`, a
  // call's time is at least that much after the previous call's, as two transactions' times
  // are distinct in PostgreSQL however fast they follow each other.
  explicit MemoryStore(Env& env, absl::Duration tick = absl::ZeroDuration())
      : env_(env), tick_(tick) {}

  // OrganisationRepository
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

  // TerminalRepository
  absl::StatusOr<core::Terminal> CreateTerminal(const core::Scope& scope,
                                                const core::Terminal& terminal,
                                                core::AuditEntry audit) override;
  absl::StatusOr<std::vector<core::BatchItemResult>> CreateTerminals(
      const core::Scope& scope, const std::vector<core::Terminal>& terminals, bool all_or_nothing,
      const core::AuditEntry& audit) override;
  absl::StatusOr<core::Terminal> GetTerminal(const core::Scope& scope,
                                             absl::string_view id) override;
  absl::StatusOr<core::Slice<core::Terminal>> ListTerminals(const core::TerminalFilter& filter,
                                                            const core::Window& window) override;
  absl::StatusOr<core::FleetSummary> SummarizeFleet(const core::TerminalFilter& filter) override;
  absl::StatusOr<core::Terminal> UpdateTerminal(const core::Scope& scope, absl::string_view id,
                                                const core::Mutation<core::Terminal>& mutate,
                                                core::AuditEntry audit) override;

  absl::StatusOr<core::Terminal> LockTerminal(const core::Scope& scope,
                                              absl::string_view id) override;

  // TokenRepository
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

  // EnrollmentRepository (memory_store_enrollment.cc)
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
  absl::StatusOr<int> RevokeCertificates(absl::string_view terminal_id) override;
  absl::StatusOr<pki::CertAndKey> LoadOrStoreCa(const pki::CertAndKey& candidate) override;
  absl::StatusOr<std::vector<pki::Revoked>> RevokedCertificates() override;
  absl::StatusOr<std::vector<core::LinkDisconnect>> PendingLinkDisconnects(size_t limit) override;
  absl::Status CompleteLinkDisconnects(const std::vector<core::LinkDisconnect>& done) override;

  // UnitOfWork: `work` runs with every other unit kept out; on an error everything it wrote is
  // undone, and an Aborted one runs again, as PgPool retries it (at most 4 runs). Plain calls
  // from other threads are not kept out: core tests on this fake drive one thread at a time.
  absl::Status Run(const std::function<absl::Status()>& work) override;

  // AuditLog
  absl::Status AppendAudit(const core::AuditEntry& entry) override;
  absl::StatusOr<core::Slice<core::AuditEntry>> ListAudit(const core::AuditFilter& filter,
                                                          const core::Window& window) override;

  // PresenceRepository
  absl::StatusOr<core::HistoryWritten> ApplyLinkReports(
      const std::vector<core::StatusReport>& statuses,
      const std::vector<core::HealthReport>& heartbeats, absl::Duration history_every) override;
  absl::StatusOr<int> MarkSilentOffline(absl::Duration timeout) override;
  absl::StatusOr<core::Slice<core::HealthSample>> ListHealthHistory(
      const core::Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
      std::optional<absl::Time> end_time, const core::Window& window) override;

  // TransactionRepository
  absl::StatusOr<core::IngestOutcome> IngestTransactions(
      const std::vector<core::Txn>& txns) override;
  absl::StatusOr<core::Slice<core::Txn>> ListTransactions(const core::TxnFilter& filter,
                                                          const core::Window& window) override;
  absl::StatusOr<std::vector<core::DailyTotal>> DailyTotals(
      const core::TxnReportFilter& filter) override;
  absl::StatusOr<core::Slice<core::SilentTerminal>> ListSilentTerminals(
      const core::Scope& scope, absl::string_view merchant_id, absl::Duration silent_for,
      const core::Window& window) override;

  // ConfigRepository (memory_store_config.cc)
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

  // Test hooks, as a test on PostgreSQL would look at the rows: terminals whose desired set is
  // not the published one, and those with a live publish claim.
  int64_t UnpublishedConfigCount() const;
  int64_t ClaimedConfigCount() const;

 private:
  template <typename T>
  struct Row {
    int64_t seq = 0;
    T value;
  };
  struct TerminalRow {
    int64_t seq = 0;
    core::Terminal t;  // presence included
    std::optional<absl::Time> uplink_refused_time;
    std::optional<absl::Time> last_txn_time;
    std::optional<absl::Time> history_time;
    // Bumped by a change of merchant or labels, as terminals.config_epoch (migration 000015).
    int64_t config_epoch = 0;
  };
  struct TokenRow {
    int64_t seq = 0;
    core::Token token;
    std::string secret_hash;
  };

  absl::Time NowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendLocked(core::AuditEntry entry, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool InScopeLocked(const core::Scope& scope, const core::Terminal& t) const;
  bool MatchesLocked(const core::TerminalFilter& f, const core::Terminal& t, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TerminalRow* FindTerminalLocked(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refuses the uplinks of terminals that exist and are not active (audited once per state);
  // returns their ids.
  std::vector<std::string> RefuseInactiveLocked(const std::vector<std::string>& ids, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct CodeRow {
    std::string code_hash;
    absl::Time expire_time;
    std::optional<absl::Time> used_time;
    int failures = 0;
  };
  struct CertificateRow {
    std::string serial;
    std::string terminal_id;
    absl::Time not_after;
    absl::Time issue_time;
    std::optional<absl::Time> revoke_time;
    std::string public_key_sha256;
    std::string cert_pem;
    std::string renewed_from;  // empty if not a renewal
  };
  // Parameters: config_revisions and config_heads of one tenant.
  struct ConfigRow {
    int64_t head = 0;
    std::map<int64_t, core::ConfigRevision> meta;  // by revision
    std::map<int64_t, std::string> documents;      // by revision: as the store keeps them
  };
  // terminal_config: hashes are lowercase hex, empty for NULL.
  struct TerminalConfigRow {
    std::string tenant_id;
    int64_t desired_revision = 0;
    std::string desired_hash;
    absl::Time desired_time;
    int64_t computed_epoch = 0;
    std::string published_hash;
    std::optional<absl::Time> claim_until;
    int64_t reported_revision = 0;
    std::string reported_hash;
    std::optional<absl::Time> report_time;
    std::string rejected_hash;
    std::string rejected_reason;
  };
  // A terminal's desired-set inputs, as the store reads them for a computation.
  struct ConfigTarget {
    core::ParamTarget target;
    std::string stored_hash;      // empty: none yet
    int64_t epoch = 0;            // the terminal's config_epoch
    int64_t computed_epoch = -1;  // -1: none yet
  };

  // Everything a unit of work rolls back (sequences and time do not, as in PostgreSQL).
  struct Data {
    std::map<std::string, Row<core::Tenant>> tenants;
    std::map<std::string, Row<core::Merchant>> merchants;
    std::map<std::string, TerminalRow> terminals;
    std::map<std::string, TokenRow> tokens;
    std::vector<core::AuditEntry> audit;  // id = index + 1
    std::map<std::string, std::vector<core::HealthSample>> history;
    std::vector<core::Txn> txns;  // id = index + 1
    // (terminal, txn id) -> the record's content (every field but seq).
    std::map<std::pair<std::string, std::string>, std::string> txn_ids;
    std::map<std::string, CodeRow> codes;  // by terminal
    std::vector<CertificateRow> certificates;
    std::optional<pki::CertAndKey> ca;
    std::map<std::string, absl::Time> disconnects;             // terminal -> request time
    std::map<std::string, ConfigRow> configs;                  // by tenant
    std::map<std::string, TerminalConfigRow> terminal_config;  // by terminal
  };

  // Enrollment helpers (memory_store_enrollment.cc).
  // The terminal's newest live certificate with `public_key_sha256` and a kept PEM, or null.
  const CertificateRow* FindIssuedLocked(absl::string_view terminal_id,
                                         absl::string_view public_key_sha256) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int RevokeLocked(absl::string_view terminal_id, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecordCertificateLocked(CertificateRow row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Parameter helpers (memory_store_config.cc).
  // NotFound unless the tenant exists and is in scope.
  absl::Status CheckTenantLocked(const core::Scope& scope, const std::string& tenant_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tenant's configuration at `revision`, 0: its newest (an empty head if none).
  absl::StatusOr<core::ConfigHead> ReadHeadLocked(const std::string& tenant_id,
                                                  int64_t revision) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The tenant's terminals not retired, in seq order; with `stale_only`, those with no desired
  // set yet or one computed from older labels.
  std::vector<ConfigTarget> ConfigTargetsLocked(const std::string& tenant_id, bool stale_only) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // As the store's StoreDesired: computes and writes the desired sets of `targets`; returns the
  // changed ones.
  absl::StatusOr<std::vector<const core::ParamTarget*>> StoreDesiredLocked(
      const std::string& tenant_id, const core::TenantParams& params, int64_t revision,
      const std::vector<ConfigTarget>& targets, bool all, bool refuse_oversized, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  core::TerminalConfigStatus ConfigStatusLocked(const std::string& terminal_id,
                                                const TerminalConfigRow& row) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `work` once; on an error, restores the data as it was before.
  absl::Status RunOnce(const std::function<absl::Status()>& work);

  Env& env_;
  const absl::Duration tick_;
  // Held by the thread running a unit of work, for all of it: units run one at a time.
  absl::Mutex unit_mu_;
  std::atomic<std::thread::id> unit_owner_{};
  mutable absl::Mutex mu_;
  absl::Time last_now_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  Data d_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::testing

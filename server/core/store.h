#pragma once

// The storage interface of posfleet. Each mutating method is one database transaction that also
// appends the given audit entry, so an audit row exists exactly when the change committed. The
// PostgreSQL implementation is store::PgStore.
//
// Errors follow abseil's retry rule: Unavailable (database unreachable; retry), Aborted
// (serialization failure or deadlock after the store's own retries), NotFound (no such row in
// the scope), AlreadyExists (unique constraint), FailedPrecondition (a row still refers to it).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/pki.h"
#include "server/core/config.h"
#include "server/core/label_selector.h"
#include "server/core/link_reports.h"
#include "server/core/transactions.h"
#include "server/core/types.h"

namespace posfleet::core {

// Changes a row loaded under a row lock. Returns the audit summary of the change, or an error to
// roll back (nothing is written then).
template <typename T>
using Mutation = std::function<absl::StatusOr<std::string>(T&)>;

// Rows after a keyset position. `limit` rows at most; `more` tells whether another page exists.
struct Window {
  int64_t after = 0;
  int limit = 100;
};

template <typename T>
struct Slice {
  std::vector<T> items;
  int64_t last = 0;  // position of the last item, the `after` of the next window
  bool more = false;
};

// "component=version" (or != with negate) over the versions of the last heartbeat.
struct SoftwareMatch {
  std::string component;
  std::string version;
  bool negate = false;
};

struct TerminalFilter {
  Scope scope;
  std::string merchant_id;  // empty: any
  std::optional<TerminalState> state;
  LabelSelector selector;
  std::optional<bool> online;
  absl::Duration offline_for = absl::ZeroDuration();  // zero: no such filter
  int battery_below = 0;                              // zero: no such filter
  std::string paper;                                  // empty: any
  std::optional<SoftwareMatch> software;
  std::optional<std::vector<std::string>> ids;  // only these terminals
};

struct AuditFilter {
  Scope scope;
  std::string actor_id;   // empty: any
  std::string target_id;  // empty: any
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
};

struct BatchItemResult {
  enum class Outcome { kCreated, kSkipped, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::string terminal_id;
  std::string field;
  std::string error;
};

// ApplyLinkReports' `history_every` that records no health history at all.
inline constexpr absl::Duration kNoHistory = absl::InfiniteDuration();

// What ApplyLinkReports wrote to the health history.
// A request to close a terminal's live broker connection.
struct LinkDisconnect {
  std::string terminal_id;
  int64_t request_micros = 0;  // when it was made (identifies the request)
  bool retired = false;        // the terminal is retired (not only suspended)
};

struct HistoryWritten {
  int samples = 0;           // heartbeats recorded
  bool failed = false;       // the history could not be written (presence was still applied)
  int refused_inactive = 0;  // reports of terminals that exist but are not active (dropped)
};

// What a partition maintenance run did; partition names, oldest first.
struct PartitionChanges {
  bool skipped = false;  // another replica holds the maintenance lock
  std::vector<std::string> created;
  std::vector<std::string> dropped;
};

class Store {
 public:
  virtual ~Store() = default;

  // Tenants. Tenant rows are global; scoped callers only ever pass their own id.
  virtual absl::StatusOr<Tenant> CreateTenant(const Tenant& tenant, AuditEntry audit) = 0;
  virtual absl::StatusOr<Tenant> GetTenant(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Tenant>> ListTenants(const Scope& scope, const Window& window) = 0;
  virtual absl::StatusOr<Tenant> UpdateTenant(absl::string_view id, const Mutation<Tenant>& mutate,
                                              AuditEntry audit) = 0;
  virtual absl::Status DeleteTenant(absl::string_view id, AuditEntry audit) = 0;

  // Merchants. NotFound if the merchant's tenant does not exist or is outside the scope.
  virtual absl::StatusOr<Merchant> CreateMerchant(const Merchant& merchant, AuditEntry audit) = 0;
  virtual absl::StatusOr<Merchant> GetMerchant(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Merchant>> ListMerchants(const Scope& scope,
                                                        const Window& window) = 0;
  virtual absl::StatusOr<Merchant> UpdateMerchant(const Scope& scope, absl::string_view id,
                                                  const Mutation<Merchant>& mutate,
                                                  AuditEntry audit) = 0;
  virtual absl::Status DeleteMerchant(const Scope& scope, absl::string_view id,
                                      AuditEntry audit) = 0;

  // Terminals. The tenant of a new terminal is its merchant's tenant (NotFound naming merchant_id
  // if the merchant is outside the scope); AlreadyExists if vendor+serial is taken in the tenant.
  virtual absl::StatusOr<Terminal> CreateTerminal(const Scope& scope, const Terminal& terminal,
                                                  AuditEntry audit) = 0;
  // Creates the terminals whose vendor+serial are new in their tenant and skips the others, one
  // audit entry (from `audit`, target filled in) per created terminal. Returns one result per
  // input, in order. With `all_or_nothing`, any failed item rolls everything back.
  virtual absl::StatusOr<std::vector<BatchItemResult>> CreateTerminals(
      const Scope& scope, const std::vector<Terminal>& terminals, bool all_or_nothing,
      const AuditEntry& audit) = 0;
  virtual absl::StatusOr<Terminal> GetTerminal(const Scope& scope, absl::string_view id) = 0;
  virtual absl::StatusOr<Slice<Terminal>> ListTerminals(const TerminalFilter& filter,
                                                        const Window& window) = 0;
  // Counts over every terminal the filter matches, in one snapshot.
  virtual absl::StatusOr<FleetSummary> SummarizeFleet(const TerminalFilter& filter) = 0;
  // A mutation may change merchant_id (NotFound unless in the same tenant), tid, labels, state.
  // When core::RevokesCertificates says so (retiring), the terminal's certificates are revoked in
  // the same transaction.
  virtual absl::StatusOr<Terminal> UpdateTerminal(const Scope& scope, absl::string_view id,
                                                  const Mutation<Terminal>& mutate,
                                                  AuditEntry audit) = 0;

  // API tokens; only the SHA-256 of a secret is ever stored.
  virtual absl::StatusOr<Token> CreateToken(const Token& token, absl::string_view secret_hash,
                                            AuditEntry audit) = 0;
  virtual absl::StatusOr<Slice<Token>> ListTokens(const Scope& scope, bool include_revoked,
                                                  const Window& window) = 0;
  // Idempotent: revoking a revoked token returns it unchanged.
  virtual absl::StatusOr<Token> RevokeToken(const Scope& scope, absl::string_view id,
                                            AuditEntry audit) = 0;
  // The valid (not revoked) token with this secret hash, or NotFound.
  virtual absl::StatusOr<Token> Authenticate(absl::string_view secret_hash) = 0;
  // If no unrevoked global admin token exists, stores `token` and returns true (the audit entry
  // records the bootstrap); otherwise returns false and stores nothing.
  virtual absl::StatusOr<bool> BootstrapAdmin(const Token& token, absl::string_view secret_hash,
                                              AuditEntry audit) = 0;

  // Enrollment.
  //
  // Stores the hash of a new activation code for a terminal in scope, replacing any earlier one,
  // valid for `ttl` from the database's now; returns the expiry. FailedPrecondition if the
  // terminal is retired or suspended.
  virtual absl::StatusOr<absl::Time> StoreActivationCode(const Scope& scope,
                                                         absl::string_view terminal_id,
                                                         absl::string_view code_hash,
                                                         absl::Duration ttl, AuditEntry audit) = 0;
  // Called under the terminal's row lock with the terminal the code belongs to; returns the
  // certificate to record, or an error that rolls everything back.
  using CertificateIssuer = std::function<absl::StatusOr<pki::Issued>(const Terminal&)>;
  // Redeems a one-time code in one transaction: reads the code and locks its terminal
  // (Unauthenticated if the code is unknown), lets core::DecideRedemption (core/lifecycle.h)
  // decide, and carries the decision out. To issue: calls `issue`, then marks the code used,
  // revokes the terminal's earlier certificates, records the new one, makes the terminal active
  // and writes `audit`. To replay (a used code presented with the key of the certificate it
  // produced: the agent retrying after a lost response): sets `replayed` to that certificate,
  // issues nothing and says so in `audit`. A mismatch of vendor or serial counts one more failure
  // against the code, committed though the call fails. As soon as the terminal is known, `audit`
  // names it and its tenant, so a failure can be audited fully.
  virtual absl::StatusOr<Terminal> RedeemActivationCode(
      absl::string_view code_hash, absl::string_view vendor, absl::string_view serial,
      absl::string_view public_key_sha256, const CertificateIssuer& issue,
      std::optional<pki::Issued>& replayed, AuditEntry& audit) = 0;
  // Renews a terminal's certificate in one transaction: locks the terminal (Unauthenticated if it
  // does not exist; FailedPrecondition if retired), checks that `current_serial` is a certificate
  // of this terminal that is not revoked (Unauthenticated otherwise), then, if a live certificate
  // for `public_key_sha256` exists already (a renewal retried after a lost response), sets
  // `replayed` to it; otherwise calls `issue` and records its certificate. Writes `audit`, whose
  // target and tenant are filled in as soon as the terminal is known.
  virtual absl::StatusOr<Terminal> RenewCertificate(absl::string_view terminal_id,
                                                    absl::string_view current_serial,
                                                    absl::string_view public_key_sha256,
                                                    const CertificateIssuer& issue,
                                                    std::optional<pki::Issued>& replayed,
                                                    AuditEntry& audit) = 0;
  // The stored fleet CA; if there is none yet, stores `candidate` and returns it. Replicas that
  // start together all end up with the same CA.
  virtual absl::StatusOr<pki::CertAndKey> LoadOrStoreCa(const pki::CertAndKey& candidate) = 0;
  // Every revoked certificate that has not expired yet (what a CRL must list).
  virtual absl::StatusOr<std::vector<pki::Revoked>> RevokedCertificates() = 0;
  // Terminals whose live broker connection must be closed (suspended or retired since), oldest
  // first, at most `limit`. Written in the transaction of the state change.
  virtual absl::StatusOr<std::vector<LinkDisconnect>> PendingLinkDisconnects(size_t limit) = 0;
  // Forgets the requests `done` (a request made again since is kept).
  virtual absl::Status CompleteLinkDisconnects(const std::vector<LinkDisconnect>& done) = 0;

  // Presence and health from the terminal link, applied in one transaction: heartbeats first,
  // then statuses, each only if its session is not older than the one recorded (a late Will from
  // an earlier connection changes nothing). Reports for unknown terminals are dropped, and so are
  // those of terminals that are not active (suspended, retired, never enrolled), which are counted
  // and audited once per terminal until it is active again (RecordRefusedUplinks). Several
  // reports for one terminal in a batch: the newest session wins, the last one on a tie.
  //
  // A heartbeat is also written to the health history when the terminal's last history record
  // is at least `history_every` old (zero: every heartbeat). Should the history be unwritable (a
  // missing partition), presence and health are still applied and HistoryWritten says false.
  virtual absl::StatusOr<HistoryWritten> ApplyLinkReports(
      const std::vector<StatusReport>& statuses, const std::vector<HealthReport>& heartbeats,
      absl::Duration history_every) = 0;
  // Marks offline every online terminal not heard from for `timeout`; returns how many. Safe to
  // run on every replica at once.
  virtual absl::StatusOr<int> MarkSilentOffline(absl::Duration timeout) = 0;

  // Health history of a terminal in scope (NotFound otherwise), newest first, between
  // `start_time` (inclusive) and `end_time` (exclusive) when given. The window position is the
  // sample's time in microseconds since the epoch.
  virtual absl::StatusOr<Slice<HealthSample>> ListHealthHistory(
      const Scope& scope, absl::string_view terminal_id, std::optional<absl::Time> start_time,
      std::optional<absl::Time> end_time, const Window& window) = 0;
  // Keeps the health history's daily partitions: creates those for the UTC days from `now`'s to
  // `days_ahead` later, and drops those whose day ended more than `retention` before `now`.
  // Partitions not named by posfleet are left alone. Only one replica works at a time; the
  // others return at once with nothing done (`skipped`).
  virtual absl::StatusOr<PartitionChanges> MaintainHealthHistory(absl::Time now, int days_ahead,
                                                                 absl::Duration retention) = 0;

  // Transactions.
  //
  // Stores the records in one transaction, each once per (terminal_id, txn_id) whatever its
  // time: a record whose id is stored with the same content (every field but seq) counts as a
  // duplicate and is committed all the same; one whose id is stored with other content is a
  // conflict, never stored (docs/transactions.md). Tenant and merchant
  // come from the terminal's row; records of unknown terminals, and of terminals that are not
  // active (refused as in ApplyLinkReports), are left out (not committed). Also
  // moves the terminals' last transaction time forward (to the minute). The caller has checked
  // every record (common/txn_record.h), including that its time is in a kept month.
  virtual absl::StatusOr<IngestOutcome> IngestTransactions(const std::vector<Txn>& txns) = 0;
  // Newest arrival first; the window position is the row's id.
  virtual absl::StatusOr<Slice<Txn>> ListTransactions(const TxnFilter& filter,
                                                      const Window& window) = 0;
  // Counts and amounts per UTC day, merchant (and terminal), currency, type and result, ordered
  // by those.
  virtual absl::StatusOr<std::vector<DailyTotal>> DailyTotals(const TxnReportFilter& filter) = 0;
  // Online terminals in scope (and merchant, if given) whose last transaction is older than
  // `silent_for`, or that never had one; the window position is the terminal's seq.
  virtual absl::StatusOr<Slice<SilentTerminal>> ListSilentTerminals(const Scope& scope,
                                                                    absl::string_view merchant_id,
                                                                    absl::Duration silent_for,
                                                                    const Window& window) = 0;
  // Keeps the transactions' monthly partitions: creates those of the kept months up to
  // `months_ahead` after `now`'s, and drops those of months before the `retention_months` newest
  // (the current month counts). Records that fell into the default partition (a month without
  // its own) are deleted once older than that. Only one replica works at a time (`skipped`).
  virtual absl::StatusOr<PartitionChanges> MaintainTransactions(absl::Time now, int months_ahead,
                                                                int retention_months) = 0;

  // Parameters (issue 5).
  //
  // A tenant's configuration at `revision` (0: the newest); an empty head (revision 0) if the
  // tenant has none yet. NotFound if the tenant is outside the scope, or has no such revision.
  virtual absl::StatusOr<ConfigHead> LoadConfig(const Scope& scope, absl::string_view tenant_id,
                                                int64_t revision) = 0;
  // Changes a tenant's configuration in one transaction: locks the tenant's head, loads it,
  // calls `change`, stores the result as the next revision, recomputes every terminal's desired
  // set (terminals not retired) and updates the desired revision and hash of those that changed,
  // and writes `audit` (summary prefixed with the revision). With `dry_run` everything is rolled
  // back instead, so a preview counts exactly what the commit would. `sample` changed terminals
  // are returned.
  virtual absl::StatusOr<ConfigCommit> CommitConfig(const Scope& scope, absl::string_view tenant_id,
                                                    const ConfigChange& change, bool dry_run,
                                                    size_t sample, AuditEntry audit) = 0;
  // Newest first; the window position is the revision.
  virtual absl::StatusOr<Slice<ConfigRevision>> ListConfigRevisions(const Scope& scope,
                                                                    absl::string_view tenant_id,
                                                                    const Window& window) = 0;
  // Brings the desired sets of terminals that appeared or changed (labels, merchant) since they
  // were last computed up to date with their tenant's newest revision; returns how many changed.
  // Safe on every replica at once (the tenant's head lock orders them).
  virtual absl::StatusOr<int64_t> RefreshDesiredConfig() = 0;
  // Claims, until now + `lease`, up to `limit` terminals whose desired set was not published yet
  // and that no one holds a live claim on, in a transaction of its own: nothing is locked while
  // the caller publishes, and a retry of this transaction has no effect outside the database.
  // A replica that dies before FinishConfigClaims leaves its claims to the others at expiry.
  virtual absl::StatusOr<std::vector<ConfigClaim>> ClaimUnpublishedConfig(size_t limit,
                                                                          absl::Duration lease) = 0;
  // Records that the broker holds `published` (each terminal's published hash becomes that hash,
  // so one whose desired set moved on meanwhile stays pending) and releases every claim of
  // `claimed`. Idempotent, so a retry records nothing twice.
  virtual absl::Status FinishConfigClaims(const std::vector<std::string>& claimed,
                                          const std::vector<PublishedSet>& published) = 0;
  // What terminals reported; reports of unknown terminals are dropped.
  virtual absl::Status ApplyConfigReports(const std::vector<ConfigReportIn>& reports) = 0;
  // The sync state of a terminal in scope; NotFound if none is computed for it yet.
  virtual absl::StatusOr<TerminalConfigStatus> GetTerminalConfig(const Scope& scope,
                                                                 absl::string_view terminal_id) = 0;
  // Terminals of a tenant in `state` (nullopt: every state but in-sync); position: terminal seq.
  virtual absl::StatusOr<Slice<TerminalConfigStatus>> ListConfigDrift(
      const Scope& scope, absl::string_view tenant_id, std::optional<SyncState> state,
      const Window& window) = 0;
  virtual absl::StatusOr<ConfigSyncCounts> CountConfigSync(const Scope& scope,
                                                           absl::string_view tenant_id) = 0;
  // Reseals every sealed value of every stored revision of every tenant with `reseal`, one
  // transaction per tenant under its head lock, and writes `audit` (per tenant, summary filled
  // in) where something changed. Revisions keep their meaning; only ciphertext changes. Safe to
  // run again after an interruption: values already resealed are left as they are.
  virtual absl::StatusOr<ResealResult> ResealConfigSecrets(const ResealFn& reseal,
                                                           AuditEntry audit) = 0;

  // Audit log: append-only. Newest first.
  virtual absl::Status AppendAudit(const AuditEntry& entry) = 0;
  virtual absl::StatusOr<Slice<AuditEntry>> ListAudit(const AuditFilter& filter,
                                                      const Window& window) = 0;
};

}  // namespace posfleet::core

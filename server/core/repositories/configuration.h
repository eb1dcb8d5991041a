#pragma once

// Parameters: schema, layers and revisions of each tenant, and each terminal's sync state.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/config.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

class ConfigRepository {
 public:
  virtual ~ConfigRepository() = default;

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
};

}  // namespace posfleet::core

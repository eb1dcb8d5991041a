#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/repositories/audit_log.h"
#include "server/core/repositories/tokens.h"

namespace posfleet::core {

struct IssuedToken {
  Token token;
  std::string secret;  // shown once; only its SHA-256 is stored
};

// API tokens: issuing, revoking, and turning a bearer secret into an Actor.
class TokenRegistry {
 public:
  TokenRegistry(TokenRepository& store, AuditLog& audit) : store_(store), audit_(audit) {}

  // Unauthenticated for a missing, unknown or revoked secret; Unavailable if the database is.
  absl::StatusOr<Actor> Authenticate(absl::string_view secret);

  // An empty `tenant_id` means the caller's tenant; for a global caller it means a global token,
  // which only the admin role may have.
  absl::StatusOr<IssuedToken> Create(const Actor& actor, absl::string_view name, Role role,
                                     absl::string_view tenant_id);
  absl::StatusOr<Page<Token>> List(const Actor& actor, absl::string_view tenant_id,
                                   bool include_revoked, int page_size,
                                   absl::string_view page_token);
  absl::StatusOr<Token> Revoke(const Actor& actor, absl::string_view id);
  absl::StatusOr<Token> WhoAmI(const Actor& actor);

  // On first start: stores `secret` (or a fresh one when empty) as a global admin token if no
  // valid global admin token exists. Returns the secret when it was stored, "" otherwise.
  absl::StatusOr<std::string> Bootstrap(absl::string_view secret);

 private:
  TokenRepository& store_;
  AuditLog& audit_;
};

// A bearer secret looks like "pft_" followed by 52 base32 characters.
bool LooksLikeSecret(absl::string_view secret);

}  // namespace posfleet::core

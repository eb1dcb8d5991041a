#pragma once

// API tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/repositories/repository.h"
#include "server/core/types.h"

namespace posfleet::core {

class TokenRepository {
 public:
  virtual ~TokenRepository() = default;

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
};

}  // namespace posfleet::core

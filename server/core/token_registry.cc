#include "server/core/token_registry.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/core/audited.h"
#include "server/core/paging.h"
#include "server/core/permissions.h"
#include "server/core/validation.h"

namespace posfleet::core {

bool LooksLikeSecret(absl::string_view secret) {
  if (secret.size() != 56 || secret.substr(0, 4) != "pft_") return false;
  for (char c : secret.substr(4)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  return true;
}

absl::StatusOr<Actor> TokenRegistry::Authenticate(absl::string_view secret) {
  const absl::Status denied = absl::UnauthenticatedError(
      "invalid or revoked API token (send \"authorization: Bearer pft_...\")");
  if (!LooksLikeSecret(secret)) return denied;
  absl::StatusOr<Token> token = store_.Authenticate(Sha256Hex(secret));
  if (absl::IsNotFound(token.status())) return denied;
  if (!token.ok()) return token.status();
  return Actor{token->id, token->name, token->role, token->tenant_id};
}

absl::StatusOr<IssuedToken> TokenRegistry::Create(const Actor& actor, absl::string_view name,
                                                  Role role, absl::string_view tenant_id) {
  IssuedToken issued;
  issued.token.id = NewId("tok");
  AuditEntry audit = BeginAudit(actor, Method::kCreateToken, "token", issued.token.id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<IssuedToken> {
    RETURN_IF_ERROR(Authorize(actor, Method::kCreateToken));
    RETURN_IF_ERROR(ValidateTokenName(name));
    if (role == Role::kTerminal) {
      return absl::InvalidArgumentError("role: terminals enroll with activation codes, not tokens");
    }
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
    if (scope.all() && role != Role::kAdmin) {
      return absl::InvalidArgumentError("tenant_id: is required; only admin tokens may be global");
    }
    issued.token.name = std::string(name);
    issued.token.role = role;
    issued.token.tenant_id = scope.tenant_id;
    issued.token.created_by = actor.token_id;
    issued.secret = NewSecret("pft");
    AuditEntry committed = audit;
    committed.tenant_id = scope.tenant_id;
    committed.summary = absl::StrCat("created ", RoleName(role), " token \"", name, "\"",
                                     scope.all() ? " (global)" : "");
    ASSIGN_OR_RETURN(issued.token,
                     store_.CreateToken(issued.token, Sha256Hex(issued.secret), committed));
    return issued;
  });
}

absl::StatusOr<Page<Token>> TokenRegistry::List(const Actor& actor, absl::string_view tenant_id,
                                                bool include_revoked, int page_size,
                                                absl::string_view page_token) {
  RETURN_IF_ERROR(Authorize(actor, Method::kListTokens));
  ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, tenant_id));
  return FetchPage<Token>(
      absl::StrCat("tokens|", scope.tenant_id, "|", include_revoked), page_size, page_token,
      [&](const Window& w) { return store_.ListTokens(scope, include_revoked, w); });
}

absl::StatusOr<Token> TokenRegistry::Revoke(const Actor& actor, absl::string_view id) {
  AuditEntry audit = BeginAudit(actor, Method::kRevokeToken, "token", id);
  return Audited(audit_, audit, [&]() -> absl::StatusOr<Token> {
    RETURN_IF_ERROR(Authorize(actor, Method::kRevokeToken));
    RETURN_IF_ERROR(ValidateId("id", id, "tok"));
    ASSIGN_OR_RETURN(Scope scope, ResolveScope(actor, ""));
    AuditEntry committed = audit;
    committed.summary = "revoked token";
    return store_.RevokeToken(scope, id, committed);
  });
}

absl::StatusOr<Token> TokenRegistry::WhoAmI(const Actor& actor) {
  RETURN_IF_ERROR(Authorize(actor, Method::kWhoAmI));
  Token t;
  t.id = actor.token_id;
  t.name = actor.name;
  t.role = actor.role;
  t.tenant_id = actor.tenant_id;
  return t;
}

absl::StatusOr<std::string> TokenRegistry::Bootstrap(absl::string_view secret) {
  std::string chosen = secret.empty() ? NewSecret("pft") : std::string(secret);
  if (!LooksLikeSecret(chosen)) {
    return absl::InvalidArgumentError(
        "bootstrap admin token: must be \"pft_\" followed by 52 characters of a-z 2-7");
  }
  Token token;
  token.id = NewId("tok");
  token.name = "bootstrap admin";
  token.role = Role::kAdmin;
  const Actor system{"system", "posfleet-server", Role::kAdmin, ""};
  AuditEntry audit = BeginAudit(system, Method::kCreateToken, "token", token.id);
  audit.summary = "created the first global admin token at start-up";
  ASSIGN_OR_RETURN(bool stored, store_.BootstrapAdmin(token, Sha256Hex(chosen), audit));
  return stored ? chosen : std::string();
}

}  // namespace posfleet::core

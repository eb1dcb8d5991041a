#include "server/core/types.h"

#include <array>
#include <utility>

#include "common/name_table.h"

namespace posfleet::core {
namespace {

constexpr NameTable<Role, 5> kRoles = {{
    {Role::kAdmin, "admin"},
    {Role::kOperator, "operator"},
    {Role::kTechnician, "technician"},
    {Role::kViewer, "viewer"},
    {Role::kTerminal, "terminal"},
}};

constexpr NameTable<TerminalState, 4> kStates = {{
    {TerminalState::kProvisioned, "provisioned"},
    {TerminalState::kActive, "active"},
    {TerminalState::kSuspended, "suspended"},
    {TerminalState::kRetired, "retired"},
}};

}  // namespace

absl::string_view RoleName(Role role) { return NameIn(kRoles, role).value_or("unknown"); }
std::optional<Role> ParseRole(absl::string_view name) { return ValueIn(kRoles, name); }
absl::string_view StateName(TerminalState state) {
  return NameIn(kStates, state).value_or("unknown");
}
std::optional<TerminalState> ParseState(absl::string_view name) { return ValueIn(kStates, name); }

}  // namespace posfleet::core

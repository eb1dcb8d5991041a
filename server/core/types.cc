#include "server/core/types.h"

#include <array>
#include <utility>

namespace posfleet::core {
namespace {

constexpr std::array<std::pair<Role, absl::string_view>, 5> kRoles = {{
    {Role::kAdmin, "admin"},
    {Role::kOperator, "operator"},
    {Role::kTechnician, "technician"},
    {Role::kViewer, "viewer"},
    {Role::kTerminal, "terminal"},
}};

constexpr std::array<std::pair<TerminalState, absl::string_view>, 4> kStates = {{
    {TerminalState::kProvisioned, "provisioned"},
    {TerminalState::kActive, "active"},
    {TerminalState::kSuspended, "suspended"},
    {TerminalState::kRetired, "retired"},
}};

template <typename E, size_t N>
absl::string_view NameOf(const std::array<std::pair<E, absl::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> Parse(const std::array<std::pair<E, absl::string_view>, N>& table,
                       absl::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view RoleName(Role role) { return NameOf(kRoles, role); }
std::optional<Role> ParseRole(absl::string_view name) { return Parse(kRoles, name); }
absl::string_view StateName(TerminalState state) { return NameOf(kStates, state); }
std::optional<TerminalState> ParseState(absl::string_view name) { return Parse(kStates, name); }

}  // namespace posfleet::core

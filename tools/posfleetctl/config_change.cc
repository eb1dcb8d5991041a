#include "tools/posfleetctl/config_change.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "tools/posfleetctl/output.h"

namespace posfleet::ctl {

std::string LayerText(v1::LayerKind kind, const std::string& id) {
  const std::string name = EnumText(v1::LayerKind_Name(kind), "LAYER_KIND_");
  if (kind == v1::LAYER_KIND_DEFAULT || kind == v1::LAYER_KIND_TENANT || id.empty()) return name;
  return absl::StrCat(name, " ", id);
}

std::string Shown(const std::optional<std::string>& v) {
  return v ? absl::StrCat("\"", *v, "\"") : "(none)";
}

void PrintChange(Context& ctx, const v1::ConfigChangeResult& r) {
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(r) << "\n";
    return;
  }
  if (r.dry_run()) {
    std::cout << "dry run, nothing committed: would be revision " << r.revision() << ", changing "
              << r.terminals_changed() << " terminal(s)\n  " << r.summary() << "\n"
              << "  to commit exactly this, add --if-revision " << r.revision() - 1
              << " (refused if the configuration changes first)\n";
  } else {
    std::cout << "revision " << r.revision() << ": " << r.summary() << "\n"
              << r.terminals_changed() << " terminal(s) get a new parameter set\n";
  }
  if (r.sample_size() == 0) return;
  Table table({"TERMINAL", "KEY", "BEFORE", "AFTER"});
  for (const v1::TerminalDiff& d : r.sample()) {
    for (const v1::ParamDiff& p : d.diffs()) {
      table.Add({d.terminal_id(), p.key(),
                 Shown(p.has_before() ? std::optional<std::string>(p.before()) : std::nullopt),
                 Shown(p.has_after() ? std::optional<std::string>(p.after()) : std::nullopt)});
    }
  }
  std::cout << "for example:\n";
  table.Print(std::cout);
}

// -m/--message, --dry-run and --if-revision, which every change takes.
void AddChangeFlags(CLI::App* cmd, std::string* message, bool* dry_run, uint64_t* if_revision) {
  cmd->add_option("-m,--message", *message, "why (kept with the revision)");
  cmd->add_flag("--dry-run", *dry_run,
                "count the terminals it would change and show a sample diff; commit nothing");
  cmd->add_option("--if-revision", *if_revision,
                  "commit only if the configuration is still at this revision (the one a "
                  "--dry-run showed); refused if someone changed it since");
}

}  // namespace posfleet::ctl

// params_bench: the in-memory part of a parameter recompute for a large tenant (issue 5):
// resolve every terminal's effective set and hash it, and preview a change to a tenant default.
// No database and no MQTT yet; those parts are timed once they exist (docs/parameters.md).
//
//   params_bench [--terminals N]

#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/params.h"

int main(int argc, char** argv) {
  using namespace posfleet;
  using namespace posfleet::core;
  int terminals = 100000;
  CLI::App app{"params_bench: resolve and hash a large tenant's parameters"};
  app.add_option("--terminals", terminals)->check(CLI::Range(1, 10000000));
  CLI11_PARSE(app, argc, argv);

  // 50 keys of every type; 20 groups on region/model/pilot labels; 100 merchants setting 5 keys;
  // 1% of terminals with an override.
  TenantParams p;
  for (int k = 0; k < 50; ++k) {
    ParamSpec s;
    s.key = absl::StrCat("section", k / 10, ".key", k);
    s.type = k % 3 == 0   ? ParamType::kInteger
             : k % 3 == 1 ? ParamType::kString
                          : ParamType::kBoolean;
    s.default_value = s.type == ParamType::kInteger  ? "10"
                      : s.type == ParamType::kString ? "x"
                                                     : "false";
    p.schema[s.key] = s;
  }
  p.tenant = {LayerKind::kTenant, "ten_1", "", 0, {{"section0.key0", "20"}}};
  static const char* const kRegions[] = {"north", "south", "east", "west"};
  for (int g = 0; g < 20; ++g) {
    const std::string selector = g % 2 == 0 ? absl::StrCat("region=", kRegions[g % 4])
                                            : absl::StrCat("model in (A920,A80),pilot");
    ParamGroup group{selector,
                     *ParseLabelSelector(selector),
                     {LayerKind::kGroup, absl::StrCat("grp_", g), absl::StrCat("group", g), g, {}}};
    group.layer.values[absl::StrCat("section", g % 5, ".key", (g * 3) % 50)] = "11";
    p.groups.push_back(std::move(group));
  }
  for (int m = 0; m < 100; ++m) {
    ParamLayer& l = p.merchants[absl::StrCat("mer_", m)];
    l = {LayerKind::kMerchant, absl::StrCat("mer_", m), "", 0, {}};
    for (int k = 0; k < 5; ++k) l.values[absl::StrCat("section", k, ".key", k * 10 + 1)] = "y";
  }
  std::vector<ParamTarget> targets;
  targets.reserve(terminals);
  for (int i = 0; i < terminals; ++i) {
    ParamTarget t{absl::StrCat("trm_", i), absl::StrCat("mer_", i % 100), {}};
    t.labels["region"] = kRegions[i % 4];
    t.labels["model"] = i % 3 == 0 ? "A920" : "V400m";
    if (i % 10 == 0) t.labels["pilot"] = "yes";
    if (i % 100 == 0) {
      p.terminals[t.id] = {LayerKind::kTerminal, t.id, "", 0, {{"section1.key12", "99"}}};
    }
    targets.push_back(std::move(t));
  }

  absl::Time start = absl::Now();
  std::vector<std::string> hashes = DesiredHashes(p, targets);
  const absl::Duration full = absl::Now() - start;

  TenantParams after = p;
  after.tenant.values["section2.key22"] = "z";  // no layer above sets it: every terminal
  start = absl::Now();
  ParamPreview preview = PreviewChange(p, after, targets, 10);
  const absl::Duration previewed = absl::Now() - start;

  std::cout << "resolve_and_hash: " << terminals
            << " terminals, 50 keys, 20 groups, 100 merchants, " << p.terminals.size()
            << " overrides in " << absl::FormatDuration(full) << " ("
            << static_cast<int64_t>(terminals / absl::ToDoubleSeconds(full))
            << " terminals/s, one core)\n";
  std::cout << "preview_tenant_default_change: " << preview.changed << " of " << terminals
            << " terminals change, computed in " << absl::FormatDuration(previewed) << "\n";
  return hashes.size() == targets.size() ? 0 : 1;
}

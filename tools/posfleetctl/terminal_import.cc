// posfleetctl terminals import: bulk provisioning from CSV in batches, each result reported at its
// file line; importing the same file again creates nothing twice.

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tools/posfleetctl/commands.h"
#include "tools/posfleetctl/csv.h"

namespace posfleet::ctl {
namespace {

constexpr int kMaxBatch = 10000;

struct ImportArgs {
  std::string file;
  bool all_or_nothing = false;
  int batch_size = 1000;
};

// The rows [start, end) of an import file as one BatchCreateTerminals.
v1::BatchCreateTerminalsRequest BatchRequest(const std::vector<ImportRow>& rows, size_t start,
                                             size_t end, bool all_or_nothing) {
  v1::BatchCreateTerminalsRequest req;
  req.set_all_or_nothing(all_or_nothing);
  for (size_t i = start; i < end; ++i) {
    v1::TerminalSpec* spec = req.add_terminals();
    spec->set_merchant_id(rows[i].merchant_id);
    spec->set_vendor(rows[i].vendor);
    spec->set_model(rows[i].model);
    spec->set_serial(rows[i].serial);
    spec->set_tid(rows[i].tid);
    for (const auto& [k, v] : rows[i].labels) (*spec->mutable_labels())[k] = v;
  }
  return req;
}

// Adds a batch's answer (rows from `start`) to `total`, each result at its file line, and says
// which lines failed and why.
void AddResults(const std::string& file, const std::vector<ImportRow>& rows, size_t start,
                const v1::BatchCreateTerminalsResponse& resp,
                v1::BatchCreateTerminalsResponse* total) {
  for (v1::BatchCreateResult r : resp.results()) {
    const int line = rows[start + r.index()].line;
    r.set_index(line);
    if (r.outcome() == v1::BatchCreateResult::OUTCOME_FAILED) {
      std::cerr << file << ":" << line << ": " << (r.field().empty() ? "" : r.field() + ": ")
                << r.error() << "\n";
    }
    *total->add_results() = r;
  }
  total->set_created(total->created() + resp.created());
  total->set_skipped(total->skipped() + resp.skipped());
  total->set_failed(total->failed() + resp.failed());
  total->set_rolled_back(total->rolled_back() || resp.rolled_back());
}

void Import(Context& ctx, const ImportArgs& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in) return ctx.UsageError(absl::StrCat("cannot read ", args.file));
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = ParseImportFile(text.str());
  if (!parsed.ok()) {
    return ctx.UsageError(absl::StrCat(args.file, ": ", parsed.status().message()));
  }
  v1::BatchCreateTerminalsResponse total;
  for (const ImportProblem& p : parsed->problems) {
    std::cerr << args.file << ":" << p.line << ": " << p.message << "\n";
    auto* r = total.add_results();
    r->set_index(p.line);
    r->set_outcome(v1::BatchCreateResult::OUTCOME_FAILED);
    r->set_error(p.message);
    total.set_failed(total.failed() + 1);
  }
  const auto& rows = parsed->rows;
  if (args.all_or_nothing && !parsed->problems.empty()) {
    std::cerr << "nothing imported: --all-or-nothing and " << parsed->problems.size()
              << " unreadable row(s)\n";
    ctx.exit_code = 1;
    return;
  }
  if (args.all_or_nothing && rows.size() > static_cast<size_t>(kMaxBatch)) {
    return ctx.UsageError(absl::StrCat("--all-or-nothing imports at most ", kMaxBatch,
                                       " rows at once; split the file"));
  }
  const size_t batch = args.all_or_nothing ? rows.size() : static_cast<size_t>(args.batch_size);
  for (size_t start = 0; start < rows.size(); start += batch) {
    const size_t end = std::min(rows.size(), start + batch);
    const v1::BatchCreateTerminalsRequest req = BatchRequest(rows, start, end, args.all_or_nothing);
    v1::BatchCreateTerminalsResponse resp;
    if (!ctx.Check(ctx.Invoke(ctx.terminals(), &v1::TerminalService::Stub::BatchCreateTerminals,
                              req, &resp))) {
      std::cerr << "stopped at line " << rows[start].line << "; rows before it were imported, "
                << "and running the same import again is safe (existing rows are skipped)\n";
      return;
    }
    AddResults(args.file, rows, start, resp, &total);
  }
  if (ctx.format() == Format::kJson) {
    std::cout << ToJson(total) << "\n";
  } else {
    std::cout << "created " << total.created() << ", skipped " << total.skipped()
              << " (already present), failed " << total.failed()
              << (total.rolled_back() ? " (rolled back: nothing was created)" : "") << "\n";
  }
  if (total.failed() > 0) ctx.exit_code = 1;
}

}  // namespace

void AddTerminalsImport(CLI::App* terminals, Context& ctx) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* cmd = terminals->add_subcommand(
      "import",
      "bulk-provision terminals from CSV (header: vendor,model,serial,merchant_id[,tid][,labels]"
      " with labels as k=v;k=v); importing the same file again creates nothing twice");
  cmd->add_option("FILE", a->file, "CSV file")->required();
  cmd->add_flag("--all-or-nothing", a->all_or_nothing,
                "import nothing unless every row is valid (at most 10000 rows)");
  cmd->add_option("--batch-size", a->batch_size, "rows per request")
      ->check(CLI::Range(1, kMaxBatch));
  cmd->callback([&ctx, a] { Import(ctx, *a); });
}

}  // namespace posfleet::ctl

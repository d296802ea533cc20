// `causeway explain`: causal chains that say why the traced workload was slow.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "analyze/stats.h"
#include "cli/command.h"
#include "cli/time_arg.h"
#include "cli/trace_state_note.h"
#include "common/terminal_text.h"
#include "store/reader.h"

namespace causeway::cli {
namespace {

struct ExplainFlags {
  std::string db;
  int64_t pid = 0;
  std::string since;
  std::string until;
  size_t top = 0;
  bool json = false;
  bool recompute = false;
};

int run_explain(const ExplainFlags& f) {
  analyze::ExplainOptions opts;
  if (f.pid > 0) opts.pid = static_cast<int32_t>(f.pid);
  for (const auto& [text, dest, name] : {std::tuple{&f.since, &opts.since_ns, "--since"},
                                         std::tuple{&f.until, &opts.until_ns, "--until"}}) {
    if (text->empty()) continue;
    auto ns = parse_time_arg(*text);
    if (!ns) {
      std::fprintf(stderr,
                   "causeway explain: %s '%s' is not a time; give ns since the trace start or a "
                   "number with a unit (e.g. 2500000000, 2.5s, 1500ms, 250us).\n",
                   name, text->c_str());
      return 2;
    }
    *dest = *ns;
  }
  if (opts.since_ns && opts.until_ns && *opts.until_ns <= *opts.since_ns) {
    std::fprintf(stderr, "causeway explain: --until must be later than --since.\n");
    return 2;
  }
  // The header counts every chain and says how many --top shows, so all are computed and
  // the cut is made when printing.
  opts.top = 0;

  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) {
    std::fprintf(stderr, "causeway explain: %s\n", reader.error().c_str());
    return 2;
  }
  const std::string note = trace_state_note(**reader, f.db);
  if (!note.empty()) std::fputs(note.c_str(), stderr);
  sqlite3* db = (*reader)->db();
  auto chains = analyze::chains_for_writer(db, f.db, opts, f.recompute);
  if (!chains.ok()) {
    std::fprintf(stderr, "causeway explain: %s\n", chains.error().c_str());
    return 1;
  }
  std::string out;
  if (f.json) {
    if (f.top > 0 && chains->size() > f.top) chains->resize(f.top);
    out = analyze::chains_to_json(*chains).dump(2, ' ', false,
                                                nlohmann::json::error_handler_t::replace) +
          "\n";
  } else {
    auto stats = analyze::stats_for_reader(db);
    const int64_t duration = stats.ok() ? stats->duration_ns : 0;
    if (stats.ok() && stats->events.count("cuda_call") && stats->events.at("cuda_call") == 0) {
      out =
          "No causal chains: this trace has no CUDA calls. Was the workload linked against "
          "libcudart/libcuda, and did tracing start before its first CUDA call?\n";
    } else {
      out = analyze::format_chains_text(*chains, duration, f.top);
    }
    if (stats.ok() && stats->total_drops > 0) {
      out += "Note: " + std::to_string(stats->total_drops) +
             " events were lost while recording (see `causeway stats`); chains may miss "
             "intervals.\n";
    }
  }
  // Names in the text come from the traced program: nothing in them may drive the terminal.
  out = terminal_safe_text(out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

void setup_explain(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<ExplainFlags>();
  sub.add_option("--db", f->db, "Trace database to explain")->required()->option_text("FILE");
  sub.add_option("--pid", f->pid, "Only chains about threads of this process")
      ->check(CLI::PositiveNumber)
      ->option_text("PID");
  sub.add_option("--since", f->since,
                 std::string("Only calls from this time on (") + kTimeArgHelp + ")")
      ->option_text("TIME");
  sub.add_option("--until", f->until, "Only calls before this time (as --since)")
      ->option_text("TIME");
  sub.add_option("--top", f->top, "Show the N highest-impact chains (default: all)")
      ->check(CLI::PositiveNumber)
      ->option_text("N");
  sub.add_flag("--json", f->json, "Machine-readable output: {\"chains\": [...]}");
  sub.add_flag("--recompute", f->recompute,
               "Ignore chains stored in the database and compute them again");
  sub.footer(
      "Chains are ranked by impact (time lost). Each names the slowed thread, the dominant "
      "cause, the culprit, the evidence (event ids per table) and a fix. Stored chains are "
      "reused when current; otherwise they are computed, and stored when the file is "
      "writable. See docs/explain.md.");
  sub.callback([f, &exit_code] { exit_code = run_explain(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"explain", "Explain why the traced workload was slow (ranked causal chains)", 30,
                  &setup_explain});

}  // namespace causeway::cli

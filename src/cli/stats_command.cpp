// `causeway stats`: a trace summary — duration, processes, events, drops, CUDA API latency.
#include <cstdio>
#include <memory>
#include <string>

#include "analyze/chain_store.h"
#include "analyze/stats.h"
#include "cli/command.h"
#include "cli/trace_state_note.h"
#include "common/terminal_text.h"
#include "store/reader.h"

namespace causeway::cli {
namespace {

struct StatsFlags {
  std::string db;
  bool json = false;
};

int run_stats(const StatsFlags& f) {
  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) {
    std::fprintf(stderr, "causeway stats: %s\n", reader.error().c_str());
    return 2;
  }
  const std::string note = trace_state_note(**reader, f.db);
  if (!note.empty()) std::fputs(note.c_str(), stderr);
  auto stats = analyze::stats_for_writer((*reader)->db(), f.db);
  if (!stats.ok()) {
    std::fprintf(stderr, "causeway stats: %s\n", stats.error().c_str());
    return 1;
  }
  std::string out = f.json ? analyze::to_json(*stats).dump(
                                 2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                 "\n"
                           : analyze::format_stats_text(*stats);
  // Names in the text come from the traced program: nothing in them may drive the terminal.
  out = terminal_safe_text(out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

void setup_stats(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<StatsFlags>();
  sub.add_option("--db", f->db, "Trace database")->required()->option_text("FILE");
  sub.add_flag("--json", f->json,
               "Machine-readable output: {\"apis\": [{\"name\", \"count\", \"total_ns\", "
               "\"p50_ns\", \"p95_ns\", \"p99_ns\", \"max_ns\", \"bytes\"}], ...}");
  sub.footer("Percentiles are nearest-rank over every call. See docs/explain.md.");
  sub.callback([f, &exit_code] { exit_code = run_stats(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"stats",
                  "Summarise a trace: duration, processes, events, drops, CUDA API latency", 35,
                  &setup_stats});

}  // namespace causeway::cli

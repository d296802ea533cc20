// `causeway finish`: completes a trace whose recorder was killed (kill -9, crash, power loss).
// The committed events are all there, but the file has no indexes, no stored symbols and no
// stored chains, and may still carry its write-ahead log. finish folds the WAL in, builds the
// indexes, symbolizes and stores the stacks as `causeway trace` does at its end, then stores
// the causal chains and statistics together with who finished it (meta finished_by), so MCP,
// `stacks` and `explain` are as fast as on a trace that ended cleanly and the documented SQL
// on symbols works. Meta 'complete' stays 0: the events after the last committed batch are
// lost, and the file says so.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "analyze/chain_store.h"
#include "cli/command.h"
#include "cli/version.h"
#include "store/reader.h"
#include "store/writer.h"
#include "symbolize/stack_symbols.h"

namespace causeway::cli {
namespace {

struct FinishFlags {
  std::string db;
};

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Symbolizes the trace's stacks and stores them, as the end of `causeway trace` does: a killed
// recorder never got there. Now is the best time left, while the traced binaries are most
// likely still the ones that ran; each is checked before it is read (module_symbolizer.h).
// Stacks already stored (finish run again) are kept: symbolizing anew after an upgrade would
// only replace right names by "binary changed". A failure is reported but does not stop
// finish: the chains are still worth storing, and readers then symbolize in memory.
// Returns the clause for the summary line.
std::string store_symbols(const std::string& db, bool already) {
  if (already) return "stacks already symbolized";
  auto s = symbolize::symbolize_and_store(db);
  if (!s.ok()) {
    std::fprintf(stderr,
                 "causeway finish: symbolizing the stacks failed: %s `causeway stacks` "
                 "symbolizes them in memory instead.\n",
                 s.error().c_str());
    return "stacks NOT symbolized (see above)";
  }
  std::string out = s->addresses == 0
                        ? std::string("no stacks to symbolize")
                        : std::to_string(s->addresses) + " stack addresses symbolized";
  if (s->unresolved > 0) {
    out += " (" + std::to_string(s->unresolved) +
           " left as module+offset with the reason; docs/stacks.md)";
  }
  // The same step names launched kernels (symbolize/kernel_names.h); said only when there were
  // kernels to name, so traces without launches read as before.
  if (s->kernels > 0) {
    out += ", " + std::to_string(s->kernels_named) + " of " + std::to_string(s->kernels) +
           " launched kernels named";
  }
  return out;
}

int run_finish(const FinishFlags& f) {
  std::optional<int64_t> end_ts;
  bool symbolized = false;
  {
    auto reader = store::Reader::open(f.db);
    if (!reader.ok()) {
      std::fprintf(stderr, "causeway finish: %s\n", reader.error().c_str());
      return 2;
    }
    if ((*reader)->meta("complete").value_or("0") == "1") {
      std::printf("%s was recorded to the end and closed cleanly; nothing to finish.\n",
                  f.db.c_str());
      return 0;
    }
    if ((*reader)->being_recorded()) {
      std::fprintf(stderr,
                   "causeway finish: %s is still being recorded; stop the recorder (Ctrl-C or "
                   "kill -INT) and it finishes the trace itself.\n",
                   f.db.c_str());
      return 1;
    }
    end_ts = (*reader)->meta_int("end_ts");
    symbolized = symbolize::stacks_symbolized((*reader)->db());
  }
  // Indexes first (their own transaction), then the symbols (theirs), then the results and
  // the finished_by mark in one transaction: a crash in between leaves the trace unfinished,
  // never marked finished without its stored chains, and running finish again completes it.
  // Symbols before chains, as at the end of `causeway trace`: the chains' stacks read them.
  Status st = store::finish_interrupted_trace(f.db);
  std::string stacks;
  if (st.ok()) {
    stacks = store_symbols(f.db, symbolized);
    st = analyze::analyze_and_store(f.db, std::string("causeway ") + kVersion + " at " + utc_now());
  }
  if (!st.ok()) {
    std::fprintf(stderr, "causeway finish: %s\n", st.message().c_str());
    return 1;
  }
  int64_t chains = 0;
  if (auto reader = store::Reader::open(f.db); reader.ok()) {
    chains = (*reader)->count_rows("causal_chain").value_or(0);
  }
  std::printf(
      "Finished %s: indexes built, %s, %lld causal chains and the statistics stored.\n"
      "The recording was interrupted: events after the last committed batch (at most about "
      "one second's worth) are missing%s.\n"
      "Next: causeway explain --db %s\n",
      f.db.c_str(), stacks.c_str(), static_cast<long long>(chains),
      end_ts ? (", the trace ends at " + std::to_string(*end_ts / 1'000'000) + " ms").c_str() : "",
      f.db.c_str());
  return 0;
}

void setup_finish(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<FinishFlags>();
  sub.add_option("--db", f->db, "Trace database whose recorder was killed")
      ->required()
      ->option_text("FILE");
  sub.footer(
      "Builds the indexes, symbolizes and stores the stacks, stores the causal chains and "
      "statistics, and marks the file (meta finished_by). Refuses a trace still being "
      "recorded. See docs/explain.md.");
  sub.callback([f, &exit_code] { exit_code = run_finish(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"finish", "Finish a trace whose recorder was killed: indexes, stored chains", 37,
                  &setup_finish});

}  // namespace causeway::cli

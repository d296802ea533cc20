// Fuzz target: a trace file from anyone. The input is the bytes of a trace database (seeds are
// small valid traces, so mutations land in page headers, records and values); it is written to
// a scratch file and read as `causeway stats`, `explain` and `verify` and the MCP analysis
// tools read a trace: store::Reader::open (file, schema and object checks), the stored
// results (chains and statistics as JSON from the file), the trace fingerprint, the
// statistics, the causal chains with their text and JSON, and the consistency checks.
//
// Each input runs under a store::ReadBudget of kBudgetMs, as MCP analysis does, so a slow
// statement ends with a sentence instead of a hang; work outside SQLite is bounded by the
// input's size.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "analyze/stats.h"
#include "fuzz_support.h"
#include "store/read_budget.h"
#include "store/reader.h"
#include "verify/trace_verify.h"

namespace {

using namespace causeway;

constexpr int64_t kBudgetMs = 3000;

void analyse(sqlite3* db) {
  (void)analyze::trace_fingerprint(db);
  (void)analyze::load_stored_chains(db);
  (void)analyze::load_stored_stats(db);
  auto stats = analyze::compute_stats(db);
  int64_t duration = 0;
  if (stats.ok()) {
    duration = stats->duration_ns;
    (void)analyze::format_stats_text(*stats);
    auto j = analyze::to_json(*stats);
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)analyze::stats_from_json(j);
  }
  analyze::ExplainOptions opts;
  auto chains = analyze::compute_chains(db, opts);
  if (chains.ok()) {
    (void)analyze::format_chains_text(*chains, duration);
    auto j = analyze::chains_to_json(*chains);
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& c : j["chains"]) (void)analyze::chain_from_json(c);
  }
  auto report = verify::verify_trace(db);
  if (report.ok()) (void)verify::format_text(*report, "fuzz.db");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_dir() + "/input.db";
  fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  {
    store::ReadBudget budget{std::chrono::milliseconds(kBudgetMs)};
    auto reader = store::Reader::open(path);
    if (reader.ok()) {
      (void)(*reader)->finished();
      (void)(*reader)->being_recorded();
      analyse((*reader)->db());
    } else if (reader.error().empty()) {
      fuzz::fail("a refused trace without a sentence");
    }
  }
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
  return 0;
}

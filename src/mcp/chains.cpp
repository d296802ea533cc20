#include "mcp/chains.h"

#include <sqlite3.h>

#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "store/read_budget.h"
#include "store/reader.h"

namespace causeway::mcp {
namespace {

int severity_rank(const std::string& s) {
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  if (s == "critical") return 4;
  return 0;
}

struct CachedChains {
  std::vector<analyze::Chain> chains;
  bool from_store = false;
};

using CacheKey = std::tuple<std::optional<int64_t>, std::optional<int64_t>, std::optional<int64_t>>;

// The engine's read-only connection to one trace and the chains computed on it for each
// (pid, since, until) asked, valid while the trace's fingerprint is unchanged: schema version,
// end_ts and the last row id of every event table. A trace still being recorded commits a
// batch at least every second, which changes the fingerprint, so its chains are recomputed on
// the next call instead of staying those of the first call. The fingerprint (nine lookups) is
// only recomputed when the file's PRAGMA data_version says another connection committed since.
struct Engine {
  std::unique_ptr<store::Reader> reader;
  std::optional<int64_t> data_version;  // when `fingerprint` was taken
  std::string fingerprint;
  std::map<CacheKey, CachedChains> cache;
  std::optional<analyze::TraceStats> stats;
  bool stats_from_store = false;
};

// At most this many filtered results per trace are kept; asking for more empties the cache.
constexpr size_t kMaxCached = 32;

// The wall-clock limit of one analysis over MCP (loading the trace is SQL, the rest takes a
// fraction of it): a 10 M-event trace analyses in about 10 s (docs/performance.md), so only
// a crafted or absurdly large trace reaches it.
constexpr std::chrono::seconds kAnalysisLimit{300};

// A budget for the SQL of one tool call on every trace connection of this thread (the
// engine's, the analysis' private scan connection, the fingerprint): a client's
// notifications/cancelled or the time limit stops it.
store::ReadBudget analysis_budget(ToolContext& ctx) {
  return store::ReadBudget(kAnalysisLimit, [&ctx] { return ctx.cancelled(); });
}

Status budget_error(const store::ReadBudget& budget, Status fallback) {
  return budget.stopped() ? Status::Error(budget.reason()) : fallback;
}

// The engine of the trace `ctx` serves, its caches emptied if the trace changed since.
Result<Engine*> engine_for(ToolContext& ctx) {
  static std::map<std::string, Engine> engines;  // by trace path; worker thread only
  const std::string& path = ctx.db.path();
  Engine& engine = engines[path];
  if (!engine.reader) {
    auto reader = store::Reader::open(path);
    if (!reader.ok()) {
      engines.erase(path);
      return reader.status();
    }
    engine.reader = std::move(*reader);
  }
  sqlite3* db = engine.reader->db();
  // Changes only when another connection (a recorder, `causeway finish`) commits to the file.
  std::optional<int64_t> data_version;
  if (sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, nullptr) == SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW) data_version = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  if (data_version && data_version == engine.data_version) return &engine;
  auto fingerprint = analyze::trace_fingerprint(db);
  if (!fingerprint.ok()) return fingerprint.status();
  engine.data_version = data_version;
  if (*fingerprint != engine.fingerprint) {
    engine.cache.clear();  // the trace changed since these were computed
    engine.stats.reset();
    engine.fingerprint = *fingerprint;
  }
  return &engine;
}

Result<const CachedChains*> chains_for(ToolContext& ctx, const ChainFilter& f) {
  store::ReadBudget budget = analysis_budget(ctx);
  auto found = engine_for(ctx);
  if (!found.ok()) return budget_error(budget, found.status());
  Engine& engine = **found;
  sqlite3* db = engine.reader->db();
  CacheKey key{f.pid, f.since_ns, f.until_ns};
  if (auto it = engine.cache.find(key); it != engine.cache.end()) return &it->second;
  if (engine.cache.size() >= kMaxCached) engine.cache.clear();
  analyze::ExplainOptions opts;
  if (f.pid) opts.pid = static_cast<int32_t>(*f.pid);
  opts.since_ns = f.since_ns;
  opts.until_ns = f.until_ns;
  CachedChains entry;
  auto chains = analyze::chains_for_reader(db, opts, &entry.from_store);
  if (!chains.ok()) return budget_error(budget, chains.status());
  entry.chains = std::move(*chains);
  return &engine.cache.emplace(key, std::move(entry)).first->second;
}

}  // namespace

Result<const analyze::TraceStats*> read_trace_stats(ToolContext& ctx, bool* from_store) {
  store::ReadBudget budget = analysis_budget(ctx);
  auto found = engine_for(ctx);
  if (!found.ok()) return budget_error(budget, found.status());
  Engine& engine = **found;
  if (!engine.stats) {
    sqlite3* db = engine.reader->db();
    auto stats = analyze::stats_for_reader(db, &engine.stats_from_store);
    if (!stats.ok()) return budget_error(budget, stats.status());
    engine.stats = std::move(*stats);
  }
  if (from_store) *from_store = engine.stats_from_store;
  return &*engine.stats;
}

Result<Json> read_causal_chains(ToolContext& ctx, const ChainFilter& f) {
  auto cached = chains_for(ctx, f);
  if (!cached.ok()) return cached.status();
  Json chains = Json::array();
  bool truncated = false;
  int min_rank = f.min_severity ? severity_rank(*f.min_severity) : 0;
  for (const auto& chain : (*cached)->chains) {
    if (f.category && chain.category != *f.category) continue;
    if (severity_rank(chain.severity) < min_rank) continue;
    if (static_cast<int64_t>(chains.size()) >= f.limit) {
      truncated = true;
      break;
    }
    chains.push_back(analyze::to_json(chain));
  }
  return Json{{"chains", std::move(chains)},
              {"truncated", truncated},
              {"from_store", (*cached)->from_store}};
}

std::string render_chain(const Json& c) {
  // Built by appending: g++ 12 -O3 reports a false -Wrestrict on
  // operator+(const char*, std::string&&) (GCC bug 105329).
  std::string line = "#";
  line += fmt_value(c.value("id", Json()));
  line += " [";
  line += c.value("severity", std::string("?"));
  line += "] ";
  line += c.value("category", std::string("?"));
  if (c.contains("impact_ns") && c["impact_ns"].is_number_integer()) {
    line += " impact " + fmt_dur(c["impact_ns"].get<int64_t>());
  }
  line += ": " + c.value("summary", std::string());
  if (c.contains("recommendation") && c["recommendation"].is_string()) {
    line += " Fix: " + c["recommendation"].get<std::string>();
  }
  // Evidence as table:id pairs, the first few; the structured result has them all.
  if (c.contains("evidence") && c["evidence"].is_array() && !c["evidence"].empty()) {
    line += " Evidence:";
    size_t shown = 0;
    for (const Json& e : c["evidence"]) {
      if (shown++ == 6) {
        line += " +" + std::to_string(c["evidence"].size() - 6) + " more";
        break;
      }
      if (e.is_object()) {
        line += ' ';
        line += e.value("table", std::string("?"));
        line += ':';
        line += fmt_value(e.value("id", Json()));
      } else {
        line += ' ';
        line += fmt_value(e);
      }
    }
  }
  return line;
}

}  // namespace causeway::mcp

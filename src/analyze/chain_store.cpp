#include "analyze/chain_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include "store/reader.h"
#include "store/schema.h"
#include "store/sql_util.h"

namespace causeway::analyze {

namespace sql = store::sql;

namespace {

// The result tables, as the schema (src/store/schema.cpp) defines them. Traces recorded by
// this build already have them (empty); older files get them here.
std::string result_tables_ddl() {
  return store::table_ddl("causal_chain") + store::table_ddl("analysis_result");
}

Result<bool> results_current(sqlite3* db) {
  if (!sql::has_table(db, "causal_chain") || !sql::has_table(db, "analysis_result")) return false;
  if (sql::meta(db, "analysis_version") != std::to_string(kAnalysisVersion)) return false;
  auto fp = trace_fingerprint(db);
  if (!fp.ok()) return fp.status();
  return sql::meta(db, "analysis_fingerprint") == *fp;
}

// Runs `sql` (no results) or returns one sentence.
Status exec(sqlite3* db, const std::string& sql, const char* what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return Status::Error(std::string("Could not ") + what + " (" + msg + ").");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> trace_fingerprint(sqlite3* db) {
  std::string fp = "v" + sql::meta(db, "schema_version").value_or("?") +
                   ";end=" + sql::meta(db, "end_ts").value_or("?");
  for (const char* t :
       {"cuda_call", "thread_state", "wakeup", "syscall", "block_io", "process_event", "thread"}) {
    const char* key = std::string_view(t) == "thread" ? "utid" : "rowid";
    sql::Stmt s(db, std::string("SELECT max(") + key + ") FROM " + t);
    if (!s.ok() || s.step() != SQLITE_ROW) return sql::query_error(db, t);
    fp += std::string(";") + t + "=" + (s.is_null(0) ? "0" : std::to_string(s.i64(0)));
  }
  return fp;
}

Result<std::optional<std::vector<Chain>>> load_stored_chains(sqlite3* db) {
  auto current = results_current(db);
  if (!current.ok()) return current.status();
  if (!*current) return std::optional<std::vector<Chain>>{};
  sql::Stmt s(db, "SELECT json FROM causal_chain ORDER BY id");
  if (!s.ok()) return sql::query_error(db, "stored causal chains");
  std::vector<Chain> chains;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto j = nlohmann::json::parse(s.text(0), nullptr, false);
    if (j.is_discarded()) return std::optional<std::vector<Chain>>{};  // treat as stale
    auto c = chain_from_json(j);
    if (!c.ok()) return std::optional<std::vector<Chain>>{};
    chains.push_back(std::move(*c));
  }
  if (rc != SQLITE_DONE) return sql::query_error(db, "stored causal chains");
  return std::optional<std::vector<Chain>>(std::move(chains));
}

Result<std::optional<TraceStats>> load_stored_stats(sqlite3* db) {
  auto current = results_current(db);
  if (!current.ok()) return current.status();
  if (!*current) return std::optional<TraceStats>{};
  sql::Stmt s(db, "SELECT json FROM analysis_result WHERE name = 'trace_stats'");
  if (!s.ok() || s.step() != SQLITE_ROW) return std::optional<TraceStats>{};
  auto j = nlohmann::json::parse(s.text(0), nullptr, false);
  if (j.is_discarded()) return std::optional<TraceStats>{};
  auto st = stats_from_json(j);
  if (!st.ok()) return std::optional<TraceStats>{};
  return std::optional<TraceStats>(std::move(*st));
}

Status store_results(sqlite3* db, const std::vector<Chain>& chains, const TraceStats& stats,
                     const std::optional<std::string>& finished_by) {
  auto fp = trace_fingerprint(db);
  if (!fp.ok()) return fp.status();
  Status st = exec(db,
                   std::string("BEGIN IMMEDIATE;") + result_tables_ddl() +
                       "DELETE FROM causal_chain; DELETE FROM analysis_result;",
                   "store causal chains in the trace");
  if (!st.ok()) return st;
  auto fail = [&](const char* what) {
    Status e = Status::Error(std::string("Could not store ") + what + " in the trace (" +
                             sqlite3_errmsg(db) + ").");
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  };
  {
    sql::Stmt ins(db,
                  "INSERT INTO causal_chain (id, severity, category, kind, pid, tid, comm, "
                  "function, impact_ns, summary, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                  "?9, ?10, ?11)");
    if (!ins.ok()) return fail("causal chains");
    for (const Chain& c : chains) {
      ins.reset();
      ins.bind(1, c.id);
      ins.bind(2, c.severity);
      ins.bind(3, c.category);
      ins.bind(4, c.kind);
      ins.bind(5, int64_t{c.subject.pid});
      ins.bind(6, int64_t{c.subject.tid});
      ins.bind(7, c.subject.comm);
      if (c.function.empty())
        ins.bind_null(8);
      else
        ins.bind(8, c.function);
      ins.bind(9, c.impact_ns);
      ins.bind(10, c.summary);
      ins.bind(11, to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      if (ins.step() != SQLITE_DONE) return fail("causal chains");
    }
  }
  {
    sql::Stmt ins(db, "INSERT INTO analysis_result (name, json) VALUES ('trace_stats', ?1)");
    if (!ins.ok()) return fail("trace statistics");
    ins.bind(1, to_json(stats).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (ins.step() != SQLITE_DONE) return fail("trace statistics");
  }
  {
    sql::Stmt m(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    if (!m.ok()) return fail("analysis meta");
    std::vector<std::pair<std::string, std::string>> meta = {
        {"analysis_version", std::to_string(kAnalysisVersion)}, {"analysis_fingerprint", *fp}};
    if (finished_by) meta.emplace_back("finished_by", *finished_by);
    for (const auto& [k, v] : meta) {
      m.reset();
      m.bind(1, k);
      m.bind(2, v);
      if (m.step() != SQLITE_DONE) return fail("analysis meta");
    }
  }
  return exec(db, "COMMIT", "commit the stored causal chains");
}

namespace {

// A read-write connection to `path`, or nullptr when the file may not be written (read-only
// file or directory, a trace still recording or interrupted and not finished). Caller closes
// it.
sqlite3* open_for_store(const std::string& path) {
  if (access(path.c_str(), W_OK) != 0) return nullptr;
  const std::string dir = path.find('/') == std::string::npos
                              ? "."
                              : path.substr(0, std::max<size_t>(1, path.rfind('/')));
  if (access(dir.c_str(), W_OK) != 0) return nullptr;  // the WAL file needs the directory
  // Hardened (store/reader.h): the file's own triggers do not fire on the results we write.
  auto opened = store::open_trace_connection(path, SQLITE_OPEN_READWRITE);
  if (!opened.ok()) return nullptr;
  sqlite3* db = *opened;
  sqlite3_busy_timeout(db, 2000);
  // Still recording, or crashed and not yet finished (`causeway finish`): do not touch it.
  // A file whose schema objects are not ours (triggers, foreign views) is not written into.
  if (!store::trace_finished(db) || !store::check_schema_objects(db).ok()) {
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

Status analyze_and_store(const std::string& path, const std::optional<std::string>& finished_by) {
  auto opened = store::open_trace_connection(path, SQLITE_OPEN_READWRITE);
  if (!opened.ok()) {
    return Status::Error("Could not open " + path + " to store causal chains (" + opened.error() +
                         ").");
  }
  sqlite3* db = *opened;
  sqlite3_busy_timeout(db, 2000);
  if (Status objects = store::check_schema_objects(db); !objects.ok()) {
    sqlite3_close(db);
    return Status::Error(path + " is not a trace as causeway writes it: " + objects.message());
  }
  auto chains = compute_chains(db, ExplainOptions{});
  if (!chains.ok()) {
    sqlite3_close(db);
    return chains.status();
  }
  auto stats = compute_stats(db);
  if (!stats.ok()) {
    sqlite3_close(db);
    return stats.status();
  }
  Status st = store_results(db, *chains, *stats, finished_by);
  sqlite3_close(db);
  return st;
}

Result<std::vector<Chain>> chains_for_reader(sqlite3* db, const ExplainOptions& opts,
                                             bool* from_store) {
  if (from_store) *from_store = false;
  // Stored chains cover the whole trace with the default thresholds: a pid filter and a
  // top-N apply to them, a time window needs its own analysis (baselines change with it).
  if (opts.since_ns || opts.until_ns) return compute_chains(db, opts);
  auto stored = load_stored_chains(db);
  if (!stored.ok()) return stored.status();
  if (*stored && opts.outlier.min_excess_ns == OutlierRule{}.min_excess_ns) {
    if (from_store) *from_store = true;
    return filter_chains(**stored, opts);
  }
  return compute_chains(db, opts);
}

Result<TraceStats> stats_for_reader(sqlite3* db, bool* from_store) {
  if (from_store) *from_store = false;
  auto stored = load_stored_stats(db);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    if (from_store) *from_store = true;
    return std::move(**stored);
  }
  return compute_stats(db);
}

namespace {

// Computes everything unfiltered, stores it if the file allows, returns the chains.
Result<std::vector<Chain>> compute_and_maybe_store(sqlite3* db, const std::string& path) {
  auto chains = compute_chains(db, ExplainOptions{});
  if (!chains.ok()) return chains.status();
  if (sqlite3* rw = open_for_store(path)) {
    auto stats = compute_stats(db);
    if (stats.ok()) (void)store_results(rw, *chains, *stats);  // best effort
    sqlite3_close(rw);
  }
  return chains;
}

}  // namespace

Result<std::vector<Chain>> chains_for_writer(sqlite3* db, const std::string& path,
                                             const ExplainOptions& opts, bool recompute) {
  if (opts.since_ns || opts.until_ns) return compute_chains(db, opts);
  if (!recompute) {
    auto stored = load_stored_chains(db);
    if (!stored.ok()) return stored.status();
    if (*stored) return filter_chains(**stored, opts);
  }
  // Only the whole-trace result is stored; a pid filter and top-N are applied to it.
  auto all = compute_and_maybe_store(db, path);
  if (!all.ok()) return all.status();
  return filter_chains(*all, opts);
}

Result<TraceStats> stats_for_writer(sqlite3* db, const std::string& path) {
  auto stored = load_stored_stats(db);
  if (!stored.ok()) return stored.status();
  if (*stored) return std::move(**stored);
  auto stats = compute_stats(db);
  if (!stats.ok()) return stats.status();
  if (sqlite3* rw = open_for_store(path)) {
    auto chains = compute_chains(db, ExplainOptions{});
    if (chains.ok()) (void)store_results(rw, *chains, *stats);
    sqlite3_close(rw);
  }
  return stats;
}

}  // namespace causeway::analyze

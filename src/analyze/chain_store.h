// Chains and statistics stored in the trace database, so MCP and repeated `explain` / `stats`
// calls are instant.
//
// Tables written by this module, defined in the schema (src/store/schema.cpp, docs/schema.md)
// like every other table: causal_chain (one row per chain, the full chain as to_json(Chain))
// and analysis_result ('trace_stats': to_json(TraceStats)); the recorder creates them empty,
// and this module creates them in files written by older builds. Meta keys
// 'analysis_version' (kAnalysisVersion) and 'analysis_fingerprint' (what the trace held when
// they were computed) say whether they are current: both must match.
//
// Writers: the end of `causeway trace`, `causeway finish`, and `causeway explain`/`stats` when
// the file is writable and complete (or finished). Readers that must never write (the MCP server)
// call the load_* and compute_* functions only.
//
// Thread-safety: functions are reentrant; each uses only the connection or path it is given.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyze/chains.h"
#include "analyze/stats.h"
#include "common/result.h"

struct sqlite3;

namespace causeway::analyze {

// Identifies the trace contents: schema version, end_ts and the last row id of every event
// table (all O(log n)). Changes whenever events are added.
Result<std::string> trace_fingerprint(sqlite3* db);

// Stored chains when present and current; nullopt when missing or stale. Read-only.
Result<std::optional<std::vector<Chain>>> load_stored_chains(sqlite3* db);
// Stored statistics when present and current; nullopt when missing or stale. Read-only.
Result<std::optional<TraceStats>> load_stored_stats(sqlite3* db);

// Replaces the stored chains and statistics in one transaction on a writable connection.
// With `finished_by`, the same transaction sets meta 'finished_by' to it (see
// analyze_and_store).
Status store_results(sqlite3* db, const std::vector<Chain>& chains, const TraceStats& stats,
                     const std::optional<std::string>& finished_by = std::nullopt);

// For writers (end of `causeway trace`, `causeway finish`): computes chains and statistics of
// the trace at `path` and stores them. Fails with one sentence if the file cannot be read or
// written. `causeway finish` passes `finished_by` (who finished it, when): it is written in
// the transaction that stores the results, so an interrupted trace counts as finished
// (store::trace_finished) only once its results are stored; a crash before that leaves it
// unfinished, and running `causeway finish` again completes it.
Status analyze_and_store(const std::string& path,
                         const std::optional<std::string>& finished_by = std::nullopt);

// Chains for a reader: stored ones when current (filtered by opts), else computed in memory.
// Never writes. `from_store` (optional) says which happened.
Result<std::vector<Chain>> chains_for_reader(sqlite3* db, const ExplainOptions& opts,
                                             bool* from_store = nullptr);
// Statistics for a reader: stored when current, else computed. Never writes.
Result<TraceStats> stats_for_reader(sqlite3* db, bool* from_store = nullptr);

// For `causeway explain` / `causeway stats`: like the *_for_reader functions, but when the
// stored results are missing or stale and the trace at `path` is complete and writable, the
// freshly computed chains (unfiltered) and statistics are stored too. Storing is best effort:
// a read-only file is analysed in memory without complaint. `db` is the caller's read
// connection to the same file.
Result<std::vector<Chain>> chains_for_writer(sqlite3* db, const std::string& path,
                                             const ExplainOptions& opts, bool recompute = false);
Result<TraceStats> stats_for_writer(sqlite3* db, const std::string& path);

}  // namespace causeway::analyze

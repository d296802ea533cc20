// Read-only, engine-enforced access to a causeway trace database for the MCP server.
//
// Why this is safe against a hostile agent (defence in depth, none relying on keyword
// filters):
//  1. the file is opened with SQLITE_OPEN_READONLY (no URI parsing, so no "?mode=rw"), and
//     `PRAGMA query_only` is set before anything else runs;
//  2. an authorizer admits only SELECT, column reads, non-dangerous functions, recursive
//     CTEs and a fixed set of introspection PRAGMAs; everything else (writes, DDL, temp
//     objects, ATTACH/DETACH, transactions, other PRAGMAs) is denied at prepare time;
//  3. sqlite3_stmt_readonly() must hold and exactly one statement may be given;
//  4. extension loading is off, SQLITE_DBCONFIG_DEFENSIVE is on (no writable_schema tricks),
//     the schema is untrusted, and sqlite3_limit() caps SQL length, blob/string length,
//     expression depth, compound selects, columns, function arguments and ATTACH (0);
//  5. one SQL function call runs where no progress handler can stop it, so the functions whose
//     cost is not linear in the value-length limit are wrapped: printf()/format() (SQLite
//     3.40's "%.*c" with a huge or negative precision loops for seconds) refuse widths and
//     precisions beyond the value-length limit, parsing the format as SQLite does;
//     ltrim/rtrim/trim(X, Y), replace and instr refuse arguments whose length product
//     exceeds a bound; checked calls are evaluated by SQLite's built-in on a private
//     in-memory connection. like/glob are bounded by the LIKE pattern limit;
//  6. each query runs under a progress handler enforcing a wall-clock limit and
//     cancellation, with row and byte caps on the result and a process-wide heap limit;
//     temporary storage (sorts) is kept in memory so the heap limit covers it.
//
// Ownership: a TraceDb owns its sqlite3 connection. Thread-safety: none; one thread at a
// time (the MCP worker) may call query().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mcp/jsonrpc.h"

struct sqlite3;

namespace causeway::mcp {

struct QueryLimits {
  int64_t max_rows = 200;                      // rows returned; more sets `truncated`
  int64_t time_limit_ms = 10'000;              // wall clock, prepare excluded
  int64_t max_result_bytes = 4 * 1024 * 1024;  // approximate size of all returned cells
};

// Per-call hooks, both optional. Called on the querying thread from SQLite's progress
// handler (every few thousand VM steps).
struct QueryControl {
  std::function<bool()> cancelled;                      // true stops the query
  std::function<void(int64_t elapsed_ms)> on_progress;  // at most every progress_interval_ms
  int64_t progress_interval_ms = 500;
};

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<Json> rows;  // each a JSON array, one value per column
  bool truncated = false;
  std::string truncated_by;  // "rows" or "bytes" when truncated
  int64_t elapsed_us = 0;
  int64_t result_bytes = 0;  // approximate
};

// Limits applied to every connection (exposed for tests and docs).
struct EngineLimits {
  int max_sql_bytes = 100'000;
  int max_value_bytes = 1'000'000;  // SQLITE_LIMIT_LENGTH: any string/blob, incl. randomblob
  int max_expr_depth = 100;
  int max_compound_select = 50;
  int max_columns = 200;
  int max_function_args = 16;
  int max_like_pattern = 100;  // LIKE/GLOB cost one call: value length x pattern length
  int max_variables = 100;
  int64_t soft_heap_bytes = 256LL * 1024 * 1024;
  int64_t hard_heap_bytes = 1024LL * 1024 * 1024;
};

class TraceDb {
 public:
  // Opens `path` read-only and hardened. Fails with one sentence (store::Reader's) if the
  // file is missing, is not an SQLite database, or is not a causeway trace.
  static Result<std::unique_ptr<TraceDb>> open(const std::string& path,
                                               const EngineLimits& limits = {});
  ~TraceDb();
  TraceDb(const TraceDb&) = delete;
  TraceDb& operator=(const TraceDb&) = delete;

  // Runs exactly one read-only statement with positional parameters (?1, ?2 …; JSON
  // null/bool/integer/number/string). Errors are sentences an agent can act on.
  Result<QueryResult> query(std::string_view sql, const std::vector<Json>& params = {},
                            const QueryLimits& limits = {}, const QueryControl& control = {});

  bool has_table(std::string_view name);
  const std::string& path() const { return path_; }

 private:
  struct FunctionGuard;
  TraceDb(sqlite3* db, std::string path, std::unique_ptr<FunctionGuard> guard);
  sqlite3* db_;
  std::string path_;
  std::unique_ptr<FunctionGuard> function_guard_;
};

// The authorizer policy on its own, for tests: returns SQLITE_OK or SQLITE_DENY for an
// authorizer callback with these arguments.
int authorize_action(int action, const char* arg1, const char* arg2);

}  // namespace causeway::mcp

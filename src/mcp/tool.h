// What every MCP tool is made of, and the context it runs in.
//
// A tool is a name, descriptions, a JSON Schema (2020-12, the MCP default dialect) for its
// arguments and for its structured result, and a function. The function returns either a
// ToolOutput (structured content + a compact text rendering) or a failed Status whose
// sentence tells the agent what to do; the server turns the latter into `isError: true`.
// Tools run on the server's single worker thread, one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/jsonrpc.h"
#include "mcp/trace_db.h"

namespace causeway::mcp {

struct ToolContext {
  explicit ToolContext(TraceDb& database) : db(database) {}
  TraceDb& db;
  // True once the client cancelled this call; long work should stop and return an error.
  std::function<bool()> cancelled = [] { return false; };
  // Reports progress (monotonically increasing) if the client asked for it; no-op otherwise.
  std::function<void(double progress, double total, const std::string& message)> progress =
      [](double, double, const std::string&) {};
  // Default SQL limits (the CLI may tighten them).
  QueryLimits limits;

  // Runs a query with this context's cancellation and progress wired in.
  Result<QueryResult> query(std::string_view sql, const std::vector<Json>& params = {},
                            int64_t max_rows = -1);
};

struct ToolOutput {
  Json structured;   // matches the tool's outputSchema
  std::string text;  // compact rendering for the model
};

struct ToolDef {
  std::string name;
  std::string title;
  std::string description;
  Json input_schema;
  Json output_schema;
  std::function<Result<ToolOutput>(const Json& args, ToolContext& ctx)> run;
};

// All built-in tools, in listing order.
std::vector<ToolDef> builtin_tools();

// Individual tools (one file each under src/mcp/tools/).
ToolDef run_sql_tool();
ToolDef describe_schema_tool();
ToolDef list_processes_tool();
ToolDef get_timeline_tool();
ToolDef get_trace_stats_tool();
ToolDef get_stacks_tool();
ToolDef get_causal_chains_tool();

// An event named by table and id, located in time and on a thread.
struct EventRef {
  std::string table;
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  std::optional<int64_t> utid;      // the thread it belongs to (wakeup: the wakee)
  std::optional<int64_t> stack_id;  // its stack, if the table has one
};
// Event tables an EventRef may name.
const std::vector<std::string>& event_tables();
Result<EventRef> find_event(ToolContext& ctx, const std::string& table, int64_t id);
// Maps a kernel tid to the utid of the thread with that tid (preferring a traced thread and
// then the latest); fails with a sentence when there is none.
Result<int64_t> utid_for_tid(ToolContext& ctx, int64_t tid);

// Text helpers shared by the tools, so every output reads the same.
// Duration in ns as a short human string: "850ns", "12.3µs", "4.56ms", "1.20s".
std::string fmt_dur(int64_t ns);
// A string that came from the traced system, JSON-quoted so it stays visibly delimited data
// (quotes, newlines and control characters escaped).
std::string quote(const std::string& s);
// A JSON value rendered compactly for text output (strings quoted as by quote()).
std::string fmt_value(const Json& v);
// Rows of `q` as objects keyed by column name.
Json rows_as_objects(const QueryResult& q);
// Nanoseconds since the trace start as milliseconds with µs precision: "12.345678ms" -> "12.346ms".
std::string fmt_ts(int64_t ns);
// The sentence every tool that shows traced strings carries.
extern const char* const kDataNotInstructions;

}  // namespace causeway::mcp

// Causal chains for MCP tools. The one place in src/mcp that knows where chains come from:
// src/analyze's stored chains when they are current for the trace, otherwise computed in
// memory by the same engine (never written: the MCP server does not write the trace).
//
// The engine runs on its own read-only connection (store::Reader), not on the hardened
// connection agents' SQL goes through: its queries are ours, and a long analysis must not be
// cut short by the per-query time limit meant for agent SQL. Results are cached per server
// process, keyed by the trace path, the pid and time window asked for, and the trace's
// fingerprint (analyze::trace_fingerprint), so a trace still being recorded gets fresh chains
// once it has grown. A client's cancellation stops an in-memory analysis.
// Thread-safety: call from the MCP worker thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "analyze/stats.h"
#include "common/result.h"
#include "mcp/tool.h"

namespace causeway::mcp {

struct ChainFilter {
  std::optional<int64_t> pid;
  std::optional<int64_t> since_ns;  // ns since trace start
  std::optional<int64_t> until_ns;
  std::optional<std::string> category;
  std::optional<std::string> min_severity;  // low | medium | high
  int64_t limit = 10;
};

// {"chains": [chain …], "truncated": bool, "from_store": bool}, ranked (severity, then
// impact). Each chain is src/analyze's JSON form (see docs/explain.md).
Result<Json> read_causal_chains(ToolContext& ctx, const ChainFilter& filter);

// The trace statistics of `causeway stats` (per-function count/total/p50/p95/p99/max/bytes/
// errors, event counts per table, drops): stored ones when current, else computed in memory
// on the engine's connection; cached like the chains. `from_store` says which. The pointer is
// valid until the next call.
Result<const analyze::TraceStats*> read_trace_stats(ToolContext& ctx, bool* from_store = nullptr);

// One compact line per chain for text output.
std::string render_chain(const Json& chain);

}  // namespace causeway::mcp

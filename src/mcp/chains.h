// Causal chains for MCP tools. The one place in src/mcp that knows where chains come from:
// src/analyze's stored chains when they are current for the trace, otherwise computed in
// memory by the same engine (never written: the MCP server does not write the trace).
//
// The engine runs on its own read-only connection (store::Reader), not on the hardened
// connection agents' SQL goes through: its queries are ours, and a long analysis must not be
// cut short by the per-query time limit meant for agent SQL. Results are cached per server
// process, keyed by the trace path and the time window asked for.
// Thread-safety: call from the MCP worker thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

// One compact line per chain for text output.
std::string render_chain(const Json& chain);

}  // namespace causeway::mcp

// Reading stored causal chains. The chain engine (src/analyze) is a later piece of work; until
// it writes a `causal_chain` table, every caller gets a clear "not computed" error. This is
// the only place that knows how chains are stored, so wiring the engine in touches only here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "mcp/tool.h"

namespace causeway::mcp {

struct ChainFilter {
  std::optional<int64_t> pid;
  std::optional<int64_t> since_ns;
  std::optional<int64_t> until_ns;
  std::optional<std::string> category;
  std::optional<std::string> min_severity;  // low | medium | high | critical
  int64_t limit = 10;
};

// The sentence returned when the trace has no chains.
extern const char* const kChainsNotComputed;

bool chains_computed(ToolContext& ctx);

// {"chains": [ {column: value …} … ], "truncated": bool}, most severe first. Filters apply
// to the columns the table has (pid or upid, ts, category, severity).
Result<Json> read_causal_chains(ToolContext& ctx, const ChainFilter& filter);

// One line per chain for text output.
std::string render_chain(const Json& chain);

}  // namespace causeway::mcp

// Resources and prompts the server offers besides tools.
#pragma once

#include <string>

#include "common/result.h"
#include "mcp/tool.h"

namespace causeway::mcp {

inline constexpr const char* kSchemaResourceUri = "causeway://trace/schema";
inline constexpr const char* kSummaryResourceUri = "causeway://trace/summary";

// The schema document for agents (the store's schema_text()).
std::string schema_document();

// The trace summary: get_trace_stats' text rendering.
Result<std::string> trace_summary(ToolContext& ctx);

// The `investigate` prompt's text; `question` may be empty. The question is the user's, and
// is quoted as such.
std::string investigate_prompt(const std::string& question);

// Server instructions returned by initialize / server/discover.
std::string server_instructions();

}  // namespace causeway::mcp

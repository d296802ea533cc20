// Time arguments of --since/--until, shared by every command that takes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace causeway::cli {

// "1.5s", "200ms", "250us", "100ns", or a bare whole number of nanoseconds (the unit of every
// ts in the database, so values copied from SQL or MCP results work as they are) -> ns since
// the trace start. nullopt when the text is not such a time (negative, unknown unit, ...).
std::optional<int64_t> parse_time_arg(const std::string& text);

// Help text for such an option.
inline constexpr const char* kTimeArgHelp =
    "ns since the trace start, or a number with a unit: 1.5s, 200ms, 250us";

}  // namespace causeway::cli

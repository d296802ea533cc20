// Validation of tool arguments against the subset of JSON Schema the built-in tools use:
// type (object/string/integer/number/boolean/array), properties, required,
// additionalProperties: false, minimum/maximum, enum, minLength/maxLength, items, oneOf of
// required-sets is not supported (tools check such combinations themselves).
//
// Pure function, thread-safe.
#pragma once

#include <string>

#include "mcp/jsonrpc.h"

namespace causeway::mcp {

// Empty string when `value` satisfies `schema`; otherwise one sentence naming the first
// problem and its location, e.g. "argument max_rows must be at most 10000".
std::string check_arguments(const Json& schema, const Json& value);

}  // namespace causeway::mcp

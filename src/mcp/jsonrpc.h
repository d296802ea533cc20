// JSON-RPC 2.0 message layer for MCP: parsing one wire message, building responses.
//
// Pure functions, no I/O, no state; thread-safe. Hostile input is expected: nesting deeper
// than kMaxNestingDepth is refused before the JSON parser sees it (so neither parsing nor
// destruction can exhaust the stack), invalid UTF-8 is a parse error, and every outgoing
// message is serialized with invalid UTF-8 replaced (strings read from a trace may hold
// arbitrary bytes).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace causeway::mcp {

using Json = nlohmann::json;

// JSON-RPC 2.0 and MCP error codes.
enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  // MCP 2026-07-28: the per-request protocol version is unknown or unsupported.
  kUnsupportedProtocolVersion = -32022,
  // causeway (JSON-RPC's server-error range): too many requests are queued; retry later.
  kServerBusy = -32000,
  // causeway: the audit log cannot be written, so no trace data is served.
  kAuditUnavailable = -32001,
};

constexpr int kMaxNestingDepth = 64;

struct RpcError {
  int code = kInternalError;
  std::string message;  // one sentence
  Json data;            // null = omitted
};

struct Message {
  enum class Kind { kRequest, kNotification, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  Json id;             // request id (string or integer); null when unknown
  std::string method;  // requests and notifications
  Json params;         // object, or null when absent
  RpcError error;      // kInvalid: what to answer (with `id`, possibly null)
};

// Parses one newline-delimited message. Never throws. Batches (JSON arrays) are reported as
// kInvalid: none of the MCP revisions served here (2025-06-18 and later) allows them.
Message parse_message(std::string_view text);

// Deepest array/object nesting of `text`, counting only brackets outside strings; stops
// counting (and returns a value > limit) as soon as `limit` is exceeded.
int nesting_depth(std::string_view text, int limit);

Json make_result(const Json& id, Json result);
// Always carries "id" (null when the request's id is unknown, as JSON-RPC 2.0 requires).
Json make_error(const Json& id, const RpcError& error);
Json make_notification(std::string method, Json params);

// Serializes for the wire: compact, invalid UTF-8 replaced by U+FFFD, no trailing newline.
std::string to_wire(const Json& message);

}  // namespace causeway::mcp

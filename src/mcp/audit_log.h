// Append-only, hash-chained audit log of MCP interactions (JSON Lines).
//
// Each line is one JSON object with the fields of AuditEntry plus
//   "seq"  — 1, 2, 3 … across the whole file,
//   "prev" — the "hash" of the previous record (64 zeros for the first),
//   "hash" — SHA-256 (hex) of this record serialized without its "hash" member
//            (nlohmann's compact dump: sorted keys, UTF-8).
// Editing, inserting, reordering or deleting any record except the trailing ones breaks the
// chain, and editing any record (the last included) breaks its own hash. Truncating the tail
// is not detectable from the file alone; ship the log elsewhere if that matters.
//
// Thread-safety: append() may be called from any thread. Several processes may append to
// one file: each append takes an exclusive flock and re-reads the tail to chain correctly.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "mcp/jsonrpc.h"

namespace causeway::mcp {

struct AuditEntry {
  std::string client;            // "name/version" as reported by the client (unverified)
  std::string protocol_version;  // revision the message was served under ("" before init)
  std::string method;            // JSON-RPC method, or "" for unparsable input
  std::string tool;              // tools/call: the tool; resources/read: the URI; prompts/get
  Json id;                       // request id, null for notifications
  Json arguments;                // tool arguments / params, capped (see kMaxAuditArgBytes)
  std::string outcome;           // ok | tool_error | rpc_error | cancelled | notification
  std::string error;             // message for tool_error / rpc_error
  int64_t result_bytes = 0;      // bytes of the response sent (0 if none)
  int64_t duration_us = 0;       // from receipt to response
};

constexpr size_t kMaxAuditArgBytes = 8192;

class AuditLog {
 public:
  // Opens (creating if needed, mode 0600) the log at `path` for appending.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status append(const AuditEntry& entry);
  const std::string& path() const { return path_; }

 private:
  AuditLog(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  std::mutex mu_;
};

// SHA-256 over a record's canonical serialization without "hash".
std::string audit_record_hash(const Json& record);

struct AuditVerification {
  bool ok = false;
  int64_t records = 0;
  int64_t first_bad_line = 0;  // 1-based line number, 0 when ok
  std::string problem;         // one sentence naming the bad record
};
AuditVerification verify_audit_log(const std::string& path);

// Human-readable rendering of one record (one line, no trailing newline).
std::string render_audit_record(const Json& record);

// Caps `value` to about `max_bytes` of JSON: longer values become a string prefix marked
// "…(truncated, N bytes)".
Json cap_json(const Json& value, size_t max_bytes);

}  // namespace causeway::mcp

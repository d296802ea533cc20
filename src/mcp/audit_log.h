// Append-only, hash-chained audit log of MCP interactions (JSON Lines).
//
// Each line is one JSON object with the fields of AuditEntry plus
//   "seq"  — 1, 2, 3 … across the whole file,
//   "prev" — the "hash" of the previous record (64 zeros for the first),
//   "hash" — always the last member: SHA-256 (hex) of the exact bytes of the line up to
//            (not including) `,"hash":"…"`, followed by the closing `}`.
// Because the hash covers the bytes as written, any change to a record — a value, key order,
// whitespace, a duplicated key — breaks its own hash; the verifier also refuses duplicate
// keys outright (parsers disagree on which of two equal keys counts). Editing, inserting,
// reordering or deleting any record except the trailing ones breaks the chain. Truncating the
// tail is not detectable from the file alone; ship the log elsewhere if that matters.
//
// Every client-supplied value (id, method, client name/version, tool, arguments, error text)
// is capped (kMaxAudit*Bytes): a longer value is kept as a prefix plus a marker with its
// original size and SHA-256, so a record never exceeds kMaxAuditRecordBytes.
//
// A record is written with one write(); if that fails part-way the file is truncated back to
// the end of the last whole record, and an appender that finds an unterminated last line
// (a writer killed mid-write) removes it before chaining. The verifier names such a torn
// tail precisely.
//
// Thread-safety: append() may be called from any thread. Several processes may append to
// one file: each append takes an exclusive flock and re-reads the tail to chain correctly.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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
  Json arguments;                // tool arguments / params (capped, see kMaxAuditArgBytes)
  // received | ok | tool_error | rpc_error | cancelled | notification | ignored | busy |
  // dropped | undelivered (see docs/mcp.md#audit-log)
  std::string outcome;
  std::string error;         // message for tool_error / rpc_error / busy / undelivered
  int64_t result_bytes = 0;  // bytes of the response about to be sent (0 if none)
  int64_t duration_us = 0;   // from receipt to the response
};

// Caps of client-supplied values in a record (bytes of text, or of the JSON for id/args).
constexpr size_t kMaxAuditIdBytes = 256;
constexpr size_t kMaxAuditTextBytes = 512;  // method, client, protocol, tool
constexpr size_t kMaxAuditErrorBytes = 2048;
constexpr size_t kMaxAuditArgBytes = 8192;
// No record causeway writes is longer than this (the caps above plus the fixed fields and
// the markers); the verifier refuses longer lines.
constexpr size_t kMaxAuditRecordBytes = 16384;

class AuditLog {
 public:
  // Opens (creating if needed, mode 0600) the log at `path` for appending.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one whole record, or nothing: on failure the file holds no part of it. Returns
  // one sentence naming the reason ("Cannot write audit log PATH: No space left on device.").
  Status append(const AuditEntry& entry);
  const std::string& path() const { return path_; }

 private:
  AuditLog(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  std::mutex mu_;
};

// The "hash" a record line must carry: SHA-256 of the line's bytes before `,"hash":"`, plus
// `}`. Returns "" when `line` does not end with a `,"hash":"<64 hex>"}` member.
std::string audit_line_hash(std::string_view line);

// Builds the line (no newline) of a record given everything but its hash; `record` must be an
// object without "hash". Exposed for tests that forge records.
std::string seal_audit_record(const Json& record);

struct AuditVerification {
  bool ok = false;
  int64_t records = 0;
  int64_t first_bad_line = 0;  // 1-based line number, 0 when ok
  std::string problem;         // one sentence naming the bad record
};
AuditVerification verify_audit_log(const std::string& path);

// Parses one record line, refusing duplicate keys at any depth. Returns a discarded value
// (is_discarded()) for invalid JSON; sets `duplicate_key` to the first repeated key found.
Json parse_audit_line(std::string_view line, std::string* duplicate_key = nullptr);

// Reads `in` one line at a time without ever holding more than `max_bytes` of a line:
// longer lines are skipped to their newline and reported as overlong.
class AuditLineReader {
 public:
  enum class Status { kLine, kOverlong, kEof };
  AuditLineReader(std::FILE* in, size_t max_bytes) : in_(in), max_(max_bytes) {}
  // The next line without its '\n'; `terminated` says whether a '\n' ended it.
  Status next(std::string& line, bool& terminated);

 private:
  std::FILE* in_;
  size_t max_;
};

// Human-readable rendering of one record (one line, no trailing newline). Every value from
// the record is passed through terminal_safe(): a client cannot forge lines or send escape
// sequences to the reader's terminal.
std::string render_audit_record(const Json& record);

// Caps `value` to about `max_bytes` of JSON: longer values become a string prefix marked
// "…(truncated, N bytes, sha256 H)".
Json cap_json(const Json& value, size_t max_bytes);
// The same for text.
std::string cap_text(std::string_view text, size_t max_bytes);

}  // namespace causeway::mcp

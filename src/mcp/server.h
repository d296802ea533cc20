// The MCP server: lifecycle, version negotiation, dispatch, pagination, cancellation,
// progress and logging over a TraceDb, with every interaction appended to an AuditLog.
//
// Protocol revisions served:
//  - 2025-06-18 and 2025-11-25 ("legacy", stateful): negotiated by `initialize`; the version
//    then holds for the whole stdio process. Requests other than ping before initialize are
//    refused.
//  - 2026-07-28 ("modern", stateless): any request whose params._meta carries
//    io.modelcontextprotocol/protocolVersion is served on its own terms (capabilities,
//    client info and log level from that request's _meta; results carry resultType and,
//    where the schema asks, cacheScope/ttlMs). `server/discover` answers in both eras.
// Batches are refused: none of these revisions allows JSON-RPC batching.
//
// Error mapping lives in one place (Server::respond): protocol problems become JSON-RPC
// errors, tool failures become CallToolResult with isError: true and the tool's sentence.
//
// Threading: serve() reads stdin on the calling thread. Requests that read the trace
// (tools/call, resources/read, prompts/get) run on one worker thread, one at a time in arrival
// order; every other message (ping, initialize, lists, logging/setLevel, notifications) is
// answered by the reading thread as it arrives, so a long tool call never delays them.
// notifications/cancelled is registered on receipt and stops the running call through the
// query's progress handler (no response is sent for it, as the spec says). Responses are whole
// lines written under a lock, in completion order; clients match them by id. handle_line() is
// the synchronous path used by tests.
//
// Bounded memory under a flood: at most ServerOptions::max_queued_requests requests and
// max_queued_bytes of their lines wait for the worker; anything beyond is answered at once
// with kServerBusy ("retry later") and not kept.
//
// Auditing comes before answering: a request that reads the trace is recorded ("received")
// before it runs, so a crash or hang in it still leaves its record; every response is
// recorded before it is written, and a response that could not be written gets a second
// record ("undelivered"); requests dropped because the client went away are recorded
// ("dropped"). If the audit log cannot be written, the server stops serving trace data: every
// later tools/call, resources/read and prompts/get is answered with kAuditUnavailable.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mcp/audit_log.h"
#include "mcp/jsonrpc.h"
#include "mcp/tool.h"
#include "mcp/trace_db.h"

namespace causeway::mcp {

inline constexpr const char* kModernVersion = "2026-07-28";
inline constexpr const char* kLatestLegacyVersion = "2025-11-25";
// Every revision this server speaks, newest first.
const std::vector<std::string>& supported_versions();

struct ServerOptions {
  std::string server_version = "0.0.0";
  size_t page_size = 50;                       // items per tools/resources/prompts list page
  QueryLimits limits;                          // defaults for run_sql and the other tools' queries
  size_t max_queued_requests = 64;             // requests waiting behind the running one
  size_t max_queued_bytes = 32 * 1024 * 1024;  // bytes of their wire lines
};

class Server {
 public:
  // `db` must outlive the server; `audit` may be null (no auditing; tests only).
  Server(TraceDb& db, AuditLog* audit, ServerOptions options);

  // Receives one outgoing wire line (no newline). Called from the worker thread, and from
  // the caller's thread on the synchronous path.
  using Emit = std::function<void(const std::string&)>;

  // Synchronous: handles one incoming line, emitting responses/notifications in order.
  void handle_line(std::string_view line, const Emit& emit);

  // Serves newline-delimited JSON-RPC on in_fd/out_fd until EOF on in_fd (then finishes the
  // queued requests) or until out_fd is closed. Returns the process exit status.
  int serve(int in_fd, int out_fd, size_t max_line_bytes);

 private:
  using Clock = std::chrono::steady_clock;
  using Reply = std::variant<Json, RpcError>;  // a result object, or a JSON-RPC error

  struct Scope {  // what one request is served under
    bool modern = false;
    std::string version;
    std::string client;     // "name/version"
    std::string log_level;  // "" = send no log notifications
    Json progress_token;    // null = no progress wanted
  };

  // Writes the response line; false when it could not be written (the client is gone).
  using Deliver = std::function<bool(const std::string&)>;

  void handle(const Message& m, Clock::time_point received, const Emit& emit,
              const Deliver& deliver);
  // Answers `m` with `error` at once (busy), auditing it as `outcome`.
  void reject(const Message& m, Clock::time_point received, const RpcError& error,
              const std::string& outcome, const Deliver& deliver);
  // Audit records around a request; false when the record could not be written.
  bool record(AuditEntry& entry, const Scope& scope, Clock::time_point received);
  void record_received(const Message& m);
  void record_dropped(const Message& m, Clock::time_point received);
  Scope session_scope();
  bool audit_broken(std::string* why = nullptr);
  // Returns true and fills `reply` when a response is to be sent.
  bool handle_request(const Message& m, Scope& scope, AuditEntry& audit, const Emit& emit,
                      Reply& reply);
  void handle_notification(const Message& m, AuditEntry& audit);

  Reply initialize(const Json& params, Scope& scope);
  Reply discover(const Scope& scope);
  Reply list_tools(const Json& params);
  Reply call_tool(const Message& m, const Scope& scope, AuditEntry& audit, const Emit& emit);
  Reply list_resources(const Json& params);
  Reply read_resource(const Json& params, AuditEntry& audit);
  Reply list_prompts(const Json& params);
  Reply get_prompt(const Json& params, AuditEntry& audit);
  Reply paginate(const std::string& kind, const std::string& key, const Json& items,
                 const Json& params);

  Json server_info() const;
  Json capabilities() const;
  void log(const Scope& scope, const std::string& level, const std::string& message,
           const Emit& emit);

  // Cancellation registry, shared by the reader and the worker.
  void mark_pending(const Json& id);
  void note_cancel(const Message& m);
  bool is_cancelled(const Json& id);
  void finish(const Json& id);

  TraceDb& db_;
  AuditLog* audit_;
  ServerOptions options_;
  std::vector<ToolDef> tools_;

  // Legacy session state: written by the reading thread (initialize, logging/setLevel), read
  // by both threads; guarded by session_mu_.
  std::mutex session_mu_;
  std::string legacy_version_;  // "" until initialize
  std::string legacy_client_;
  std::string legacy_log_level_;  // "" until logging/setLevel

  // Set once an audit record could not be written; from then on no trace data is served.
  std::mutex audit_mu_;
  std::string audit_failure_;  // "" while the log works

  std::mutex cancel_mu_;
  std::set<std::string> pending_;    // ids (wire form) queued or running
  std::set<std::string> cancelled_;  // subset of pending_ the client cancelled
};

}  // namespace causeway::mcp

#include "mcp/server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>

#include "mcp/arg_check.h"
#include "mcp/content.h"
#include "mcp/stdio_transport.h"

namespace causeway::mcp {
namespace {

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCapabilities = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
constexpr const char* kMetaLogLevel = "io.modelcontextprotocol/logLevel";
constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";
constexpr int kResourceNotFound = -32002;  // MCP: resources/read of an unknown URI

const std::vector<std::string>& legacy_versions() {
  static const std::vector<std::string> v = {"2025-11-25", "2025-06-18"};
  return v;
}

int level_rank(const std::string& level) {
  static const char* kLevels[] = {"debug", "info",     "notice", "warning",
                                  "error", "critical", "alert",  "emergency"};
  for (int i = 0; i < 8; ++i) {
    if (level == kLevels[i]) return i;
  }
  return -1;
}

std::string client_label(const Json& info) {
  if (!info.is_object()) return "";
  std::string name =
      info.contains("name") && info["name"].is_string() ? info["name"].get<std::string>() : "?";
  std::string version = info.contains("version") && info["version"].is_string()
                            ? info["version"].get<std::string>()
                            : "?";
  // Capped here too, so a multi-megabyte clientInfo is not copied into every request's scope.
  return cap_text(name, kMaxAuditTextBytes / 2) + "/" + cap_text(version, kMaxAuditTextBytes / 2);
}

// Requests that read the trace (through the single TraceDb connection or the chains engine):
// they run on the worker thread, one at a time, in arrival order, are recorded before they
// run, and are refused once the audit log fails. Everything else is answered by the reading
// thread as it arrives.
bool reads_trace(const Message& m) {
  return m.kind == Message::Kind::kRequest &&
         (m.method == "tools/call" || m.method == "resources/read" || m.method == "prompts/get");
}

// What a trace-reading request names: the tool, the resource URI or the prompt.
std::string request_target(const Message& m) {
  const char* key = m.method == "resources/read" ? "uri" : "name";
  if (m.params.is_object() && m.params.contains(key) && m.params[key].is_string()) {
    return m.params[key].get<std::string>();
  }
  return "";
}

std::string hex_encode(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool hex_decode(const std::string& s, std::string& out) {
  if (s.size() % 2 != 0 || s.size() > 128) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

Json params_without_meta(const Json& params) {
  if (!params.is_object()) return nullptr;
  Json p = params;
  p.erase("_meta");
  return p.empty() ? Json(nullptr) : p;
}

RpcError invalid_params(std::string message) {
  return RpcError{kInvalidParams, std::move(message), nullptr};
}

}  // namespace

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> v = {kModernVersion, "2025-11-25", "2025-06-18"};
  return v;
}

Server::Server(TraceDb& db, AuditLog* audit, ServerOptions options)
    : db_(db), audit_(audit), options_(std::move(options)), tools_(builtin_tools()) {
  if (options_.page_size == 0) options_.page_size = 1;
}

Json Server::server_info() const {
  return Json{
      {"name", "causeway"}, {"title", "causeway GPU trace"}, {"version", options_.server_version}};
}

Json Server::capabilities() const {
  // Honest: no list ever changes while serving one trace, nothing is subscribable, and
  // completion is not offered. Logging is offered (legacy: logging/setLevel; modern: the
  // per-request logLevel).
  return Json{{"tools", {{"listChanged", false}}},
              {"resources", {{"listChanged", false}, {"subscribe", false}}},
              {"prompts", {{"listChanged", false}}},
              {"logging", Json::object()}};
}

// ---- cancellation --------------------------------------------------------------------

void Server::mark_pending(const Json& id) {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  pending_.insert(id.dump());
}

void Server::note_cancel(const Message& m) {
  if (m.kind != Message::Kind::kNotification || m.method != "notifications/cancelled") return;
  if (!m.params.is_object() || !m.params.contains("requestId")) return;
  std::string key = m.params["requestId"].dump();
  std::lock_guard<std::mutex> lock(cancel_mu_);
  // Only requests still queued or running can be cancelled; anything else is stale.
  if (pending_.count(key)) cancelled_.insert(key);
}

bool Server::is_cancelled(const Json& id) {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  return cancelled_.count(id.dump()) > 0;
}

void Server::finish(const Json& id) {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  pending_.erase(id.dump());
  cancelled_.erase(id.dump());
}

// ---- dispatch ------------------------------------------------------------------------

void Server::handle_line(std::string_view line, const Emit& emit) {
  auto received = Clock::now();
  Message m = parse_message(line);
  if (m.kind == Message::Kind::kRequest) mark_pending(m.id);
  note_cancel(m);
  if (reads_trace(m)) record_received(m);
  handle(m, received, emit, [&](const std::string& wire) {
    emit(wire);
    return true;
  });
}

Server::Scope Server::session_scope() {
  Scope scope;
  std::lock_guard<std::mutex> lock(session_mu_);
  scope.version = legacy_version_;
  scope.client = legacy_client_;
  scope.log_level = legacy_log_level_;
  return scope;
}

bool Server::audit_broken(std::string* why) {
  std::lock_guard<std::mutex> lock(audit_mu_);
  if (why) *why = audit_failure_;
  return !audit_failure_.empty();
}

bool Server::record(AuditEntry& entry, const Scope& scope, Clock::time_point received) {
  if (!audit_) return true;
  if (entry.client.empty()) entry.client = scope.client;
  if (entry.protocol_version.empty()) entry.protocol_version = scope.version;
  entry.duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - received).count();
  Status st = audit_->append(entry);
  if (st.ok()) return true;
  std::lock_guard<std::mutex> lock(audit_mu_);
  if (audit_failure_.empty()) {
    audit_failure_ = st.message();
    std::fprintf(stderr,
                 "causeway mcp: %s Serving no more trace data (tools, resources, prompts) "
                 "until the log can be written and the server is restarted.\n",
                 st.message().c_str());
  }
  return false;
}

void Server::record_received(const Message& m) {
  AuditEntry entry;
  entry.method = m.method;
  entry.id = m.id;
  entry.tool = request_target(m);
  entry.outcome = "received";
  if (m.params.is_object()) {
    // A 2026-07-28 request names its client in its own _meta.
    if (auto meta = m.params.find("_meta");
        meta != m.params.end() && meta->is_object() && meta->contains(kMetaClientInfo)) {
      entry.client = client_label((*meta)[kMetaClientInfo]);
    }
    entry.arguments = m.method == "tools/call" && m.params.contains("arguments")
                          ? m.params["arguments"]
                          : params_without_meta(m.params);
  }
  Scope scope = session_scope();
  record(entry, scope, Clock::now());
}

void Server::record_dropped(const Message& m, Clock::time_point received) {
  AuditEntry entry;
  entry.method = m.method;
  entry.id = m.id;
  entry.tool = request_target(m);
  entry.outcome = "dropped";
  entry.error = "The client closed the connection before this request ran; it was not run.";
  Scope scope = session_scope();
  record(entry, scope, received);
  if (m.kind == Message::Kind::kRequest) finish(m.id);
}

void Server::reject(const Message& m, Clock::time_point received, const RpcError& error,
                    const std::string& outcome, const Deliver& deliver) {
  AuditEntry entry;
  entry.method = m.method;
  entry.id = m.id;
  entry.tool = request_target(m);
  entry.outcome = outcome;
  entry.error = error.message;
  std::string wire = to_wire(make_error(m.id, error));
  entry.result_bytes = static_cast<int64_t>(wire.size());
  Scope scope = session_scope();
  record(entry, scope, received);
  if (m.kind == Message::Kind::kRequest) finish(m.id);
  deliver(wire);
}

void Server::log(const Scope& scope, const std::string& level, const std::string& message,
                 const Emit& emit) {
  if (scope.log_level.empty() || level_rank(level) < level_rank(scope.log_level)) return;
  emit(to_wire(make_notification(
      "notifications/message", Json{{"level", level}, {"logger", "causeway"}, {"data", message}})));
}

void Server::handle(const Message& m, Clock::time_point received, const Emit& emit,
                    const Deliver& deliver) {
  AuditEntry audit;
  audit.method = m.method;
  audit.id = m.id;
  Scope scope = session_scope();
  std::string wire;
  switch (m.kind) {
    case Message::Kind::kInvalid:
      wire = to_wire(make_error(m.id, m.error));
      audit.outcome = "rpc_error";
      audit.error = m.error.message;
      break;
    case Message::Kind::kResponse:
      // This server sends no requests, so no response is expected; ignore it.
      audit.outcome = "ignored";
      break;
    case Message::Kind::kNotification:
      handle_notification(m, audit);
      break;
    case Message::Kind::kRequest: {
      Reply reply;
      std::string why;
      if (reads_trace(m) && audit_broken(&why)) {
        audit.tool = request_target(m);
        reply = RpcError{kAuditUnavailable,
                         "Refused: the audit log cannot be written (" + why +
                             "), and causeway serves no trace data unaudited; free disk space or "
                             "fix --audit-log FILE, then restart causeway mcp.",
                         nullptr};
      } else if (!handle_request(m, scope, audit, emit, reply)) {
        // Cancelled: per the spec no response is sent.
        break;
      }
      if (auto* err = std::get_if<RpcError>(&reply)) {
        wire = to_wire(make_error(m.id, *err));
        audit.outcome = "rpc_error";
        audit.error = err->message;
      } else {
        Json result = std::move(std::get<Json>(reply));
        if (scope.modern) {
          result["resultType"] = "complete";
          result["_meta"][kMetaServerInfo] = server_info();
        }
        wire = to_wire(make_result(m.id, std::move(result)));
        if (audit.outcome.empty()) audit.outcome = "ok";
      }
      break;
    }
  }
  // The arguments of a trace-reading request are in its "received" record already.
  if (reads_trace(m)) audit.arguments = nullptr;
  audit.result_bytes = static_cast<int64_t>(wire.size());
  // Recorded before the response is written: what the client gets is always in the log first.
  const bool recorded = record(audit, scope, received);
  if (!recorded && reads_trace(m) && !wire.empty()) {
    std::string why;
    audit_broken(&why);
    wire = to_wire(make_error(
        m.id, RpcError{kAuditUnavailable,
                       "Refused: the audit log cannot be written (" + why +
                           "), so this result is withheld; free disk space or fix --audit-log "
                           "FILE, then restart causeway mcp.",
                       nullptr}));
  }
  if (m.kind == Message::Kind::kRequest) finish(m.id);
  if (wire.empty()) return;
  if (!deliver(wire) && m.kind != Message::Kind::kResponse) {
    AuditEntry undelivered;
    undelivered.method = m.method;
    undelivered.id = m.id;
    undelivered.tool = audit.tool;
    undelivered.outcome = "undelivered";
    undelivered.error =
        "The response (" + std::to_string(wire.size()) +
        " bytes) could not be written: the client closed its end of the connection.";
    record(undelivered, scope, received);
  }
}

void Server::handle_notification(const Message& m, AuditEntry& audit) {
  audit.outcome = "notification";
  audit.arguments = params_without_meta(m.params);
  if (m.method == "notifications/initialized" || m.method == "notifications/cancelled" ||
      m.method == "notifications/roots/list_changed") {
    return;  // cancellation was registered on receipt; the others need no action
  }
  audit.outcome = "ignored";  // unknown notifications are ignored, as JSON-RPC requires
}

bool Server::handle_request(const Message& m, Scope& scope, AuditEntry& audit, const Emit& emit,
                            Reply& reply) {
  const Json params = m.params.is_object() ? m.params : Json::object();
  audit.arguments = params_without_meta(params);
  const Json* meta = nullptr;
  if (auto it = params.find("_meta"); it != params.end()) {
    if (!it->is_object()) {
      reply = invalid_params("params._meta must be an object.");
      return true;
    }
    meta = &*it;
    if (auto t = meta->find("progressToken"); t != meta->end()) {
      if (t->is_string() || t->is_number_integer()) scope.progress_token = *t;
    }
  }

  if (m.method == "initialize") {
    reply = initialize(params, scope);
    return true;
  }
  if (m.method == "server/discover") {
    if (meta && meta->contains(kMetaClientInfo))
      scope.client = client_label((*meta)[kMetaClientInfo]);
    reply = discover(scope);
    // Era-neutral: answered without protocol version checks so clients can probe with it.
    if (meta && meta->contains(kMetaVersion)) scope.modern = true;
    return true;
  }

  if (meta && meta->contains(kMetaVersion)) {
    // 2026-07-28: everything this request needs travels in its own _meta.
    const Json& v = (*meta)[kMetaVersion];
    std::string version = v.is_string() ? v.get<std::string>() : "";
    if (version != kModernVersion) {
      reply = RpcError{kUnsupportedProtocolVersion,
                       "Unsupported protocol version in _meta; use one of data.supported (or "
                       "initialize for 2025-11-25 and 2025-06-18).",
                       Json{{"requested", v.is_string() ? v : Json(v.dump())},
                            {"supported", Json::array({kModernVersion})}}};
      return true;
    }
    scope.modern = true;
    scope.version = version;
    scope.client = meta->contains(kMetaClientInfo) ? client_label((*meta)[kMetaClientInfo]) : "";
    scope.log_level = "";
    if (!meta->contains(kMetaCapabilities) || !(*meta)[kMetaCapabilities].is_object()) {
      reply = invalid_params(std::string("params._meta must carry ") + kMetaCapabilities +
                             " (an object; {} when the client has none).");
      return true;
    }
    if (auto l = meta->find(kMetaLogLevel); l != meta->end()) {
      if (!l->is_string() || level_rank(l->get<std::string>()) < 0) {
        reply = invalid_params("Unknown log level in _meta.");
        return true;
      }
      scope.log_level = l->get<std::string>();
    }
    if (m.method == "ping" || m.method == "logging/setLevel") {
      reply = RpcError{kMethodNotFound,
                       "Method not found: " + m.method + " was removed in " + kModernVersion + ".",
                       nullptr};
      return true;
    }
  } else if (scope.version.empty() && m.method != "ping") {
    reply = RpcError{kInvalidRequest,
                     "Server not initialized: send initialize first, or put " +
                         std::string(kMetaVersion) + " in params._meta (" + kModernVersion + ").",
                     nullptr};
    return true;
  }

  if (m.method == "ping") {
    reply = Json::object();
  } else if (m.method == "logging/setLevel") {
    if (!params.contains("level") || !params["level"].is_string() ||
        level_rank(params["level"].get<std::string>()) < 0) {
      reply = invalid_params(
          "level must be one of debug, info, notice, warning, error, critical, alert, "
          "emergency.");
    } else {
      std::lock_guard<std::mutex> lock(session_mu_);
      legacy_log_level_ = params["level"].get<std::string>();
      reply = Json::object();
    }
  } else if (m.method == "tools/list") {
    reply = list_tools(params);
  } else if (m.method == "tools/call") {
    reply = call_tool(m, scope, audit, emit);
    if (is_cancelled(m.id)) {
      audit.outcome = "cancelled";
      return false;
    }
  } else if (m.method == "resources/list") {
    reply = list_resources(params);
  } else if (m.method == "resources/templates/list") {
    reply = paginate("resource_templates", "resourceTemplates", Json::array(), params);
  } else if (m.method == "resources/read") {
    reply = read_resource(params, audit);
  } else if (m.method == "prompts/list") {
    reply = list_prompts(params);
  } else if (m.method == "prompts/get") {
    reply = get_prompt(params, audit);
  } else {
    reply = RpcError{kMethodNotFound, "Method not found: " + m.method + ".", nullptr};
  }
  if (scope.modern) {
    // Cacheable results (lists and reads) must say how they may be cached. The trace is
    // private data; lists never change while serving, contents are re-read each time.
    if (auto* r = std::get_if<Json>(&reply)) {
      if (m.method == "tools/list" || m.method == "resources/list" ||
          m.method == "resources/templates/list" || m.method == "prompts/list") {
        (*r)["cacheScope"] = "private";
        (*r)["ttlMs"] = 3600000;
      } else if (m.method == "resources/read") {
        (*r)["cacheScope"] = "private";
        (*r)["ttlMs"] = 0;
      }
    }
  }
  return true;
}

// ---- lifecycle -----------------------------------------------------------------------

Server::Reply Server::initialize(const Json& params, Scope& scope) {
  std::lock_guard<std::mutex> lock(session_mu_);
  if (!legacy_version_.empty()) {
    return RpcError{kInvalidRequest, "Already initialized; initialize is sent once per connection.",
                    nullptr};
  }
  if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string()) {
    return invalid_params("initialize needs params.protocolVersion (a string).");
  }
  if (params.contains("capabilities") && !params["capabilities"].is_object()) {
    return invalid_params("initialize params.capabilities must be an object.");
  }
  std::string requested = params["protocolVersion"].get<std::string>();
  const auto& legacy = legacy_versions();
  // Negotiation: echo a version we speak, otherwise offer our latest handshake revision (a
  // 2026-07-28 client must not get its stateless revision through initialize).
  std::string chosen = std::find(legacy.begin(), legacy.end(), requested) != legacy.end()
                           ? requested
                           : kLatestLegacyVersion;
  legacy_version_ = chosen;
  legacy_client_ = client_label(params.value("clientInfo", Json()));
  scope.version = chosen;
  scope.client = legacy_client_;
  return Json{{"protocolVersion", chosen},
              {"capabilities", capabilities()},
              {"serverInfo", server_info()},
              {"instructions", server_instructions()}};
}

Server::Reply Server::discover(const Scope&) {
  return Json{{"supportedVersions", supported_versions()},
              {"capabilities", capabilities()},
              {"serverInfo", server_info()},
              {"instructions", server_instructions()},
              {"cacheScope", "private"},
              {"ttlMs", 3600000},
              {"resultType", "complete"}};
}

// ---- lists ---------------------------------------------------------------------------

Server::Reply Server::paginate(const std::string& kind, const std::string& key, const Json& items,
                               const Json& params) {
  size_t offset = 0;
  if (params.contains("cursor")) {
    const Json& c = params["cursor"];
    std::string decoded;
    bool ok = c.is_string() && hex_decode(c.get<std::string>(), decoded);
    std::string prefix = kind + ":";
    if (ok && decoded.rfind(prefix, 0) == 0) {
      try {
        offset = std::stoul(decoded.substr(prefix.size()));
      } catch (...) {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (!ok || offset > items.size()) {
      return invalid_params("Invalid cursor; pass the nextCursor of the previous page unchanged.");
    }
  }
  Json page = Json::array();
  size_t end = std::min(items.size(), offset + options_.page_size);
  for (size_t i = offset; i < end; ++i) page.push_back(items[i]);
  Json result{{key, std::move(page)}};
  if (end < items.size()) result["nextCursor"] = hex_encode(kind + ":" + std::to_string(end));
  return result;
}

Server::Reply Server::list_tools(const Json& params) {
  Json items = Json::array();
  for (const ToolDef& t : tools_) {
    items.push_back(Json{{"name", t.name},
                         {"title", t.title},
                         {"description", t.description},
                         {"inputSchema", t.input_schema},
                         {"outputSchema", t.output_schema},
                         {"annotations",
                          {{"title", t.title},
                           {"readOnlyHint", true},
                           {"destructiveHint", false},
                           {"idempotentHint", true},
                           {"openWorldHint", false}}}});
  }
  return paginate("tools", "tools", items, params);
}

Server::Reply Server::list_resources(const Json& params) {
  Json items = Json::array(
      {Json{{"uri", kSchemaResourceUri},
            {"name", "schema"},
            {"title", "Trace database schema"},
            {"description",
             "Tables, views, columns with units and meaning, and example queries of the trace "
             "database (what describe_schema returns)."},
            {"mimeType", "text/plain"}},
       Json{{"uri", kSummaryResourceUri},
            {"name", "summary"},
            {"title", "Trace summary"},
            {"description",
             "The trace at a glance: duration, host, processes, event counts, drops, CUDA "
             "latency percentiles (what get_trace_stats returns)."},
            {"mimeType", "text/plain"}}});
  return paginate("resources", "resources", items, params);
}

Server::Reply Server::read_resource(const Json& params, AuditEntry& audit) {
  if (!params.contains("uri") || !params["uri"].is_string()) {
    return invalid_params("resources/read needs params.uri (a string).");
  }
  std::string uri = params["uri"].get<std::string>();
  audit.tool = uri;
  std::string text;
  if (uri == kSchemaResourceUri) {
    text = schema_document();
  } else if (uri == kSummaryResourceUri) {
    ToolContext ctx(db_);
    ctx.limits = options_.limits;
    auto summary = trace_summary(ctx);
    if (!summary.ok()) {
      return RpcError{kInternalError, "Cannot summarize the trace: " + summary.error(), nullptr};
    }
    text = *summary;
  } else {
    return RpcError{kResourceNotFound, "Resource not found; see resources/list.",
                    Json{{"uri", uri}}};
  }
  return Json{
      {"contents", Json::array({Json{{"uri", uri}, {"mimeType", "text/plain"}, {"text", text}}})}};
}

Server::Reply Server::list_prompts(const Json& params) {
  Json items = Json::array({Json{
      {"name", "investigate"},
      {"title", "Investigate a GPU slowdown"},
      {"description",
       "Guides a sound root-cause investigation of this trace: summary, causal chains, "
       "evidence, SQL to confirm, conclusion with event ids and no invented numbers."},
      {"arguments", Json::array({Json{{"name", "question"},
                                      {"description",
                                       "What to find out, e.g. 'Why is the first token slow?' "
                                       "(optional)"},
                                      {"required", false}}})}}});
  return paginate("prompts", "prompts", items, params);
}

Server::Reply Server::get_prompt(const Json& params, AuditEntry& audit) {
  if (!params.contains("name") || !params["name"].is_string()) {
    return invalid_params("prompts/get needs params.name (a string).");
  }
  std::string name = params["name"].get<std::string>();
  audit.tool = name;
  if (name != "investigate") return invalid_params("Unknown prompt; see prompts/list.");
  std::string question;
  if (params.contains("arguments")) {
    const Json& args = params["arguments"];
    if (!args.is_object()) return invalid_params("prompts/get arguments must be an object.");
    for (const auto& [k, v] : args.items()) {
      if (k != "question") return invalid_params("Unknown prompt argument " + k + ".");
      if (!v.is_string()) return invalid_params("Prompt argument question must be a string.");
      question = v.get<std::string>();
    }
  }
  return Json{
      {"description", "Investigate this trace"},
      {"messages", Json::array({Json{
                       {"role", "user"},
                       {"content", {{"type", "text"}, {"text", investigate_prompt(question)}}}}})}};
}

// ---- tools ---------------------------------------------------------------------------

Server::Reply Server::call_tool(const Message& m, const Scope& scope, AuditEntry& audit,
                                const Emit& emit) {
  const Json& params = m.params;
  if (!params.is_object() || !params.contains("name") || !params["name"].is_string()) {
    return invalid_params("tools/call needs params.name (a string).");
  }
  std::string name = params["name"].get<std::string>();
  audit.tool = name;
  auto tool =
      std::find_if(tools_.begin(), tools_.end(), [&](const ToolDef& t) { return t.name == name; });
  if (tool == tools_.end()) return invalid_params("Unknown tool " + name + "; see tools/list.");
  Json args = Json::object();
  if (params.contains("arguments") && !params["arguments"].is_null()) {
    args = params["arguments"];
    if (!args.is_object()) return invalid_params("tools/call arguments must be an object.");
  }
  audit.arguments = args;

  auto tool_error = [&](const std::string& text) {
    audit.outcome = "tool_error";
    audit.error = text;
    log(scope, "warning", name + ": " + text, emit);
    return Json{{"content", Json::array({Json{{"type", "text"}, {"text", text}}})},
                {"isError", true}};
  };
  std::string problem = check_arguments(tool->input_schema, args);
  if (!problem.empty()) {
    return tool_error("Invalid arguments: " + problem + ". See the tool's inputSchema.");
  }
  ToolContext ctx(db_);
  ctx.limits = options_.limits;
  Json id = m.id;
  ctx.cancelled = [this, id] { return is_cancelled(id); };
  if (!scope.progress_token.is_null()) {
    Json token = scope.progress_token;
    auto last = std::make_shared<double>(-1);
    ctx.progress = [token, last, emit](double progress, double total, const std::string& msg) {
      if (progress <= *last) return;  // progress must increase
      *last = progress;
      Json p{{"progressToken", token}, {"progress", progress}};
      if (total > 0) p["total"] = total;
      if (!msg.empty()) p["message"] = msg;
      emit(to_wire(make_notification("notifications/progress", std::move(p))));
    };
  }
  auto started = Clock::now();
  Result<ToolOutput> out = tool->run(args, ctx);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!out.ok()) return tool_error(out.error());
  log(scope, "debug", name + " finished in " + std::to_string(ms) + " ms", emit);
  return Json{{"content", Json::array({Json{{"type", "text"}, {"text", out->text}}})},
              {"structuredContent", std::move(out->structured)},
              {"isError", false}};
}

// ---- stdio loop ----------------------------------------------------------------------

int Server::serve(int in_fd, int out_fd, size_t max_line_bytes) {
  LineReader reader(in_fd, max_line_bytes);
  LineWriter writer(out_fd);
  struct Item {
    Message message;
    Clock::time_point received;
    size_t bytes = 0;  // of its wire line, counted against max_queued_bytes
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;
  size_t queued_bytes = 0;
  bool input_done = false;
  std::atomic<bool> output_gone{false};

  Emit emit = [&](const std::string& line) {
    if (!writer.write(line)) output_gone = true;
  };
  Deliver deliver = [&](const std::string& line) {
    if (writer.write(line)) return true;
    output_gone = true;
    return false;
  };
  std::thread worker([&] {
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || input_done; });
        if (queue.empty()) return;
        item = std::move(queue.front());
        queue.pop_front();
        queued_bytes -= item.bytes;
      }
      if (output_gone) {
        // Nobody is listening: drain without working, but leave a record of each request.
        record_dropped(item.message, item.received);
        continue;
      }
      handle(item.message, item.received, emit, deliver);
    }
  });

  std::string line;
  for (;;) {
    auto status = reader.next(line);
    if (status == LineReader::Status::kEof || status == LineReader::Status::kError) break;
    Item item;
    item.received = Clock::now();
    if (status == LineReader::Status::kOverlong) {
      item.message.kind = Message::Kind::kInvalid;
      item.message.error = RpcError{
          kInvalidRequest,
          "Message longer than " + std::to_string(max_line_bytes) + " bytes; refused.", nullptr};
    } else {
      if (line.empty()) continue;  // blank lines carry nothing
      item.message = parse_message(line);
      item.bytes = line.size();
    }
    if (item.message.kind == Message::Kind::kRequest) mark_pending(item.message.id);
    note_cancel(item.message);
    if (!reads_trace(item.message)) {
      // Control messages (ping, lifecycle, lists, cancellation) are answered here at once, so
      // a long tool call never delays them.
      if (!output_gone) {
        handle(item.message, item.received, emit, deliver);
      } else if (item.message.kind == Message::Kind::kRequest) {
        record_dropped(item.message, item.received);
      }
    } else {
      bool full = false;
      size_t waiting = 0, waiting_bytes = 0;
      {
        std::lock_guard<std::mutex> lock(mu);
        waiting = queue.size();
        waiting_bytes = queued_bytes;
        full = waiting >= options_.max_queued_requests ||
               waiting_bytes + item.bytes > options_.max_queued_bytes;
      }
      if (full) {
        // Bounded memory: the request is answered now and not kept.
        reject(item.message, item.received,
               RpcError{kServerBusy,
                        "Server busy: " + std::to_string(waiting) + " requests (" +
                            std::to_string(waiting_bytes) +
                            " bytes) already wait behind the running one; retry this request "
                            "once earlier ones have been answered.",
                        nullptr},
               "busy", deliver);
      } else {
        record_received(item.message);
        std::lock_guard<std::mutex> lock(mu);
        queued_bytes += item.bytes;
        queue.push_back(std::move(item));
      }
    }
    cv.notify_one();
    if (output_gone) break;
  }
  if (output_gone) {
    // The client is gone: stop whatever runs now instead of finishing the queue.
    std::lock_guard<std::mutex> lock(cancel_mu_);
    cancelled_ = pending_;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    input_done = true;
  }
  cv.notify_one();
  worker.join();
  return 0;
}

}  // namespace causeway::mcp

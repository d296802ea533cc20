// Fuzz target: the MCP server's input path. Each input is a session of newline-separated wire
// lines; every line goes through parse_message() and then Server::handle_line() — lifecycle,
// version negotiation, dispatch, argument checks, every tool, resource and prompt — against
// the MCP fixture trace, with the audit log on.
//
// Invariants checked besides "no crash, no sanitizer finding": every line the server emits is
// valid JSON-RPC 2.0 (an object with "jsonrpc": "2.0"), and the audit log's hash chain
// verifies (checked every kAuditCheckEvery inputs, then the log starts afresh so it stays
// small).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "mcp/audit_log.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_fixture.h"
#include "mcp/server.h"
#include "mcp/trace_db.h"

namespace {

using namespace causeway;

constexpr size_t kMaxLines = 32;
constexpr int kAuditCheckEvery = 256;

struct State {
  std::unique_ptr<mcp::TraceDb> db;
  std::unique_ptr<mcp::AuditLog> audit;
  std::string audit_path;
  mcp::ServerOptions options;
  int inputs = 0;
};

State* g = nullptr;

void open_audit() {
  g->audit.reset();
  std::remove(g->audit_path.c_str());
  auto audit = mcp::AuditLog::open(g->audit_path);
  if (!audit.ok()) fuzz::fail(audit.error());
  g->audit = std::move(*audit);
}

void check_audit() {
  auto v = mcp::verify_audit_log(g->audit_path);
  if (!v.ok)
    fuzz::fail("audit chain broken at line " + std::to_string(v.first_bad_line) + ": " + v.problem);
  open_audit();
}

void check_emitted(const std::string& wire) {
  mcp::Json j = mcp::Json::parse(wire, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("jsonrpc") || j["jsonrpc"] != "2.0") {
    fuzz::fail("the server emitted a line that is not JSON-RPC 2.0: " + wire.substr(0, 200));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g = new State;
  const std::string trace = fuzz::scratch_dir() + "/trace.db";
  Status st = testing::write_fixture_trace(trace);
  if (!st.ok()) fuzz::fail(st.message());
  auto db = mcp::TraceDb::open(trace, fuzz::engine_limits());
  if (!db.ok()) fuzz::fail(db.error());
  g->db = std::move(*db);
  g->audit_path = trace + ".audit.jsonl";
  open_audit();
  // Short query limits keep each input fast; the engine limits are the product's.
  g->options.limits.time_limit_ms = 200;
  g->options.limits.max_rows = 50;
  g->options.page_size = 3;  // pagination cursors get exercised on short lists
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // A fresh server per input: the session (initialize, log level) is part of the input.
  mcp::Server server(*g->db, g->audit.get(), g->options);
  size_t lines = 0;
  while (lines++ < kMaxLines) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    (void)mcp::parse_message(line);
    server.handle_line(line, check_emitted);
    if (nl == std::string_view::npos) break;
    input.remove_prefix(nl + 1);
  }
  if (++g->inputs % kAuditCheckEvery == 0) check_audit();
  return 0;
}

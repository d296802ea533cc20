// An in-process MCP server over the fixture trace, driven line by line (unit tests).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mcp/audit_log.h"
#include "mcp/mcp_fixture.h"
#include "mcp/server.h"
#include "mcp/trace_db.h"
#include "support/test_support.h"

namespace causeway::testing {

class TestServer {
 public:
  // `fixture` writes the trace the server opens (default: the MCP fixture trace).
  explicit TestServer(
      mcp::ServerOptions options = {},
      const std::function<Status(const std::string&)>& fixture = write_fixture_trace) {
    db_path = dir.file("trace.db");
    audit_path = dir.file("trace.db.audit.jsonl");
    Status st = fixture(db_path);
    EXPECT_TRUE(st.ok()) << st.message();
    auto db = mcp::TraceDb::open(db_path);
    EXPECT_TRUE(db.ok()) << db.error();
    db_ = std::move(*db);
    auto audit = mcp::AuditLog::open(audit_path);
    EXPECT_TRUE(audit.ok()) << audit.error();
    audit_ = std::move(*audit);
    server_ = std::make_unique<mcp::Server>(*db_, audit_.get(), options);
  }

  // Every message the server emits for one input line, parsed.
  std::vector<mcp::Json> send_line(const std::string& line) {
    std::vector<mcp::Json> out;
    server_->handle_line(line,
                         [&](const std::string& wire) { out.push_back(mcp::Json::parse(wire)); });
    return out;
  }
  std::vector<mcp::Json> send(const mcp::Json& message) { return send_line(message.dump()); }

  // The single response to a request (notifications before it are dropped).
  mcp::Json request(const std::string& method, mcp::Json params = mcp::Json::object()) {
    mcp::Json msg{{"jsonrpc", "2.0"}, {"id", ++next_id_}, {"method", method}};
    if (!params.is_null()) msg["params"] = std::move(params);
    auto out = send(msg);
    for (auto& m : out) {
      if (m.contains("id") && m["id"] == next_id_) return m;
    }
    ADD_FAILURE() << "no response to " << method;
    return nullptr;
  }

  mcp::Json initialize(const std::string& version = "2025-11-25") {
    auto r = request("initialize", {{"protocolVersion", version},
                                    {"capabilities", mcp::Json::object()},
                                    {"clientInfo", {{"name", "unit-test"}, {"version", "1"}}}});
    send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    return r;
  }

  mcp::Json call_tool(const std::string& name, mcp::Json args = mcp::Json::object()) {
    return request("tools/call", {{"name", name}, {"arguments", std::move(args)}});
  }

  mcp::Server& server() { return *server_; }

  TempDir dir;
  std::string db_path;
  std::string audit_path;

 private:
  std::unique_ptr<mcp::TraceDb> db_;
  std::unique_ptr<mcp::AuditLog> audit_;
  std::unique_ptr<mcp::Server> server_;
  int next_id_ = 0;
};

}  // namespace causeway::testing

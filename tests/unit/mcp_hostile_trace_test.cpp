// MCP tools on crafted traces (issue 16): wrongly typed and out-of-range cells give one
// sentence (an isError result), never an exception or a signal that ends the server, and the
// trace file is never written.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "mcp/mcp_test_server.h"

namespace causeway::mcp {
namespace {

using causeway::testing::TestServer;

// The noisy-neighbour trace with `sql` applied.
std::function<Status(const std::string&)> crafted(std::string sql) {
  return [sql](const std::string& path) {
    causeway::testing::scenarios::noisy_neighbour(path, /*healthy=*/false);
    causeway::testing::exec_sql(path, sql);
    return Status::Ok();
  };
}

std::string file_bytes(const std::string& path) {
  return causeway::testing::read_file(path);
}

std::string text_of(const Json& response) {
  return response["result"]["content"][0]["text"].get<std::string>();
}

// get_timeline centred on an event whose dur is TEXT or BLOB aborted the server (nlohmann
// type_error, SIGABRT).
TEST(mcp_hostile_trace, WronglyTypedTimesGiveOneSentence) {
  for (const char* value : {"'abc'", "x'0102'"}) {
    SCOPED_TRACE(value);
    TestServer s({}, crafted(std::string("UPDATE cuda_call SET dur = ") + value +
                             " WHERE id = 5; DELETE FROM meta WHERE key LIKE 'analysis%'"));
    const std::string before = file_bytes(s.db_path);
    s.initialize();
    auto timeline = s.call_tool("get_timeline", {{"event_table", "cuda_call"}, {"event_id", 5}});
    ASSERT_TRUE(timeline.contains("result")) << timeline.dump();
    EXPECT_EQ(timeline["result"]["isError"], true) << timeline.dump();
    EXPECT_NE(text_of(timeline).find("not an integer"), std::string::npos) << text_of(timeline);
    for (const char* tool : {"get_trace_stats", "get_causal_chains"}) {
      auto r = s.call_tool(tool);
      ASSERT_TRUE(r.contains("result")) << r.dump();
      EXPECT_EQ(r["result"]["isError"], true) << r.dump();
      EXPECT_NE(text_of(r).find("damaged or was crafted"), std::string::npos) << text_of(r);
    }
    // Tools that only show rows still answer.
    auto sql = s.call_tool("run_sql", {{"sql", "SELECT dur FROM cuda_call WHERE id = 5"}});
    EXPECT_EQ(sql["result"]["isError"], false) << sql.dump();
    auto procs = s.call_tool("list_processes");
    EXPECT_EQ(procs["result"]["isError"], false) << procs.dump();
    EXPECT_EQ(file_bytes(s.db_path), before);
  }
}

// A ts shifted by 2^62 made get_trace_stats and get_causal_chains die with SIGSEGV (phase
// shift windows indexed out of bounds).
TEST(mcp_hostile_trace, OutOfRangeTimesGiveOneSentence) {
  TestServer s({}, crafted("UPDATE cuda_call SET ts = ts + 4611686018427387904 WHERE id % 7 = 0; "
                           "DELETE FROM meta WHERE key LIKE 'analysis%'"));
  s.initialize();
  for (const char* tool : {"get_trace_stats", "get_causal_chains"}) {
    auto r = s.call_tool(tool);
    ASSERT_TRUE(r.contains("result")) << r.dump();
    EXPECT_EQ(r["result"]["isError"], true) << r.dump();
    EXPECT_NE(text_of(r).find("outside what a trace can hold"), std::string::npos) << text_of(r);
  }
}

}  // namespace
}  // namespace causeway::mcp

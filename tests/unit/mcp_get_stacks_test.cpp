// get_stacks on a trace that grows while the server runs (a trace still being recorded): a
// mapping recorded after the first call (dlopen) is used by the next call, instead of the
// symbolizer built for the first call answering "no mapping" for the rest of the session.
// And get_stacks aggregates on the symbolized stack, as `causeway stacks` does: raw stacks
// that show the same frames are one entry.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>
#include <string>

#include "fixtures/scenarios.h"
#include "fixtures/stack_fixture.h"
#include "mcp/mcp_test_server.h"

namespace causeway::mcp {
namespace {

using causeway::testing::exec_sql;
using causeway::testing::TestServer;

std::string first_frame_kind(TestServer& s) {
  auto r = s.call_tool("get_stacks", {{"event_table", "cuda_call"}, {"event_id", 1}});
  const Json& stacks = r["result"]["structuredContent"]["stacks"];
  if (!stacks.is_array() || stacks.empty()) return "no stacks: " + r.dump();
  return stacks[0]["frames"][0]["kind"].get<std::string>();
}

TEST(mcp_get_stacks, MappingsRecordedAfterTheFirstCallAreUsed) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    causeway::testing::give_calls_a_stack(path, 400);
    // The library is not mapped yet when the first call comes.
    exec_sql(path, "DELETE FROM mapping WHERE id = 900");
    return Status::Ok();
  });
  s.initialize();
  EXPECT_EQ(first_frame_kind(s), "no_mapping");
  // The recorder notes the mapping and the trace grows (end_ts moves on).
  exec_sql(s.db_path,
           "INSERT INTO mapping (id, upid, start_addr, end_addr, file_offset, path, build_id) "
           "SELECT 900, upid, 4194304, 4259840, 0, '/nonexistent/app', 'abcd' FROM process WHERE "
           "pid = 400; UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'end_ts'");
  EXPECT_EQ(first_frame_kind(s), "binary_missing");
}

TEST(mcp_get_stacks, RawStacksThatSymbolizeAlikeAreOneEntry) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    causeway::testing::give_calls_a_stack(path, 400);
    // The same file mapped a second time at another address (as in a second process of the
    // same binary): other return addresses, same file offsets, so the same frames.
    exec_sql(path,
             "INSERT INTO mapping (id, upid, start_addr, end_addr, file_offset, path, build_id) "
             "SELECT 901, upid, 5242880, 5308416, 0, '/nonexistent/app', 'abcd' FROM process "
             "WHERE pid = 400;"
             "INSERT INTO stack (id, upid, depth) SELECT 901, upid, 2 FROM process WHERE pid = "
             "400;"
             "INSERT INTO stack_frame (stack_id, depth, pc) VALUES (901, 0, 5246976), (901, 1, "
             "5251072);"
             "UPDATE cuda_call SET stack_id = 901 WHERE stack_id = 900 AND id % 2 = 0");
    return Status::Ok();
  });
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"tid", 400}});
  const Json& out = r["result"]["structuredContent"];
  ASSERT_TRUE(out["stacks"].is_array()) << r.dump();
  ASSERT_EQ(out["stacks"].size(), 1u) << out.dump(2);
  const Json& st = out["stacks"][0];
  EXPECT_EQ(st["count"], out["events_with_stack"]);
  EXPECT_EQ(st["dur_ns"], out["matched_dur_ns"]);
  ASSERT_EQ(st["stack_ids"].size(), 2u) << st.dump();
  std::set<int64_t> ids{st["stack_ids"][0].get<int64_t>(), st["stack_ids"][1].get<int64_t>()};
  EXPECT_EQ(ids, (std::set<int64_t>{900, 901}));
  EXPECT_EQ(st["stack_id"], st["stack_ids"][0]);  // the raw stack with most time
  EXPECT_EQ(st["py_stack_ids"], Json::array());
  EXPECT_EQ(st["frames"][0]["kind"], "binary_missing");
  EXPECT_FALSE(out["truncated"].get<bool>());
}

// A stack whose outermost frame is a named function that is not a thread's start (the
// frame-pointer walk stopped inside code without frame pointers) is flagged, in the data and
// in the text, as `causeway stacks` and `explain` do; a stack that ends at main is not.
TEST(mcp_get_stacks, StacksThatStopEarlySaySo) {
  for (const bool early : {true, false}) {
    TestServer s({}, [early](const std::string& path) {
      causeway::testing::scenarios::host_sync(path, false);
      causeway::testing::give_calls_a_stack(path, 400);
      // Stored symbols for the fixture's two frames (pc 0x401000; return address 0x402000,
      // looked up at pc - 1), as the symbolizer stores them at the end of a trace.
      const std::string u = "(SELECT upid FROM process WHERE pid = 400)";
      exec_sql(path, std::string("INSERT INTO symbol (id, function, file, line, module, kind) "
                                 "VALUES (1, 'cuInit', '/src/driver.cpp', 10, '/nonexistent/app', "
                                 "'native'), (2, '") +
                         (early ? "__pthread_once_slow" : "main") +
                         "', '/src/once.c', 20, '/nonexistent/app', 'native');"
                         "INSERT INTO frame_symbol VALUES (" +
                         u + ", 4198400, 0, 1, 0, 4096), (" + u +
                         ", 4202495, 0, 2, 0, 8191);"
                         "INSERT OR REPLACE INTO meta (key, value) VALUES ('symbolized', '1')");
      return Status::Ok();
    });
    s.initialize();
    auto r = s.call_tool("get_stacks", {{"tid", 400}});
    const Json& out = r["result"]["structuredContent"];
    ASSERT_TRUE(out["stacks"].is_array() && out["stacks"].size() == 1u) << r.dump(2);
    const Json& st = out["stacks"][0];
    ASSERT_EQ(st["frames"].size(), 2u) << st.dump(2);
    EXPECT_EQ(st["frames"][1]["function"], early ? "__pthread_once_slow" : "main");
    EXPECT_EQ(st["ends_early"], early) << st.dump(2);
    const std::string text = r["result"]["content"][0]["text"].get<std::string>();
    EXPECT_EQ(text.find("the walk stopped here") != std::string::npos, early) << text;
  }
}

}  // namespace
}  // namespace causeway::mcp

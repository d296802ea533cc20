// get_stacks on a trace that grows while the server runs (a trace still being recorded): a
// mapping recorded after the first call (dlopen) is used by the next call, instead of the
// symbolizer built for the first call answering "no mapping" for the rest of the session.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "fixtures/scenarios.h"
#include "fixtures/stack_fixture.h"
#include "mcp/mcp_test_server.h"

namespace causeway::mcp {
namespace {

using causeway::testing::TestServer;

void exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

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
    exec(path, "DELETE FROM mapping WHERE id = 900");
    return Status::Ok();
  });
  s.initialize();
  EXPECT_EQ(first_frame_kind(s), "no_mapping");
  // The recorder notes the mapping and the trace grows (end_ts moves on).
  exec(s.db_path,
       "INSERT INTO mapping (id, upid, start_addr, end_addr, file_offset, path, build_id) "
       "SELECT 900, upid, 4194304, 4259840, 0, '/nonexistent/app', 'abcd' FROM process WHERE "
       "pid = 400; UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'end_ts'");
  EXPECT_EQ(first_frame_kind(s), "binary_missing");
}

}  // namespace
}  // namespace causeway::mcp

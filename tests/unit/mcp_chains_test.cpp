// MCP chains: the per-process cache follows the trace. A trace that changes after the first
// call (still being recorded) gets its chains recomputed; stored chains that became stale are
// not served.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "analyze/chain_store.h"
#include "fixtures/scenarios.h"
#include "mcp/chains.h"
#include "mcp/trace_db.h"
#include "support/test_support.h"

namespace causeway::mcp {
namespace {

using causeway::testing::exec_sql;
using causeway::testing::TempDir;
namespace scenarios = causeway::testing::scenarios;

Json chains(ToolContext& ctx) {
  ChainFilter f;
  f.limit = 50;
  auto r = read_causal_chains(ctx, f);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : Json();
}

bool has_category(const Json& result, const std::string& category) {
  for (const Json& c : result["chains"]) {
    if (c["category"] == category && c["severity"] == "high") return true;
  }
  return false;
}

// The trace grows under the server (as while recording): the first answer had no problem to
// report, the events committed since show one, and the next call reports it.
TEST(mcp_chains, ChainsAreRecomputedWhenTheTraceChanges) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  const std::string later = dir.file("later.db");
  scenarios::noisy_neighbour(path, true);
  scenarios::noisy_neighbour(later, false);  // the same processes, with the neighbour's theft
  auto db = TraceDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  ToolContext ctx(**db);
  Json first = chains(ctx);
  EXPECT_FALSE(has_category(first, "cpu_contention")) << first.dump(1);
  EXPECT_EQ(chains(ctx), first);  // unchanged trace: the same answer (from the cache)

  // What a recorder does while the server runs: more rows, a later end_ts.
  exec_sql(path, "ATTACH '" + later +
                     "' AS later; DELETE FROM thread_state; INSERT INTO thread_state SELECT * FROM "
                     "later.thread_state; UPDATE meta SET value = (SELECT value FROM later.meta "
                     "WHERE key = 'end_ts') WHERE key = 'end_ts';");
  Json second = chains(ctx);
  EXPECT_TRUE(has_category(second, "cpu_contention")) << second.dump(1);
  EXPECT_FALSE(second["from_store"].get<bool>());
}

// Stored chains are served while current; once the trace gains an event they are stale and
// the server computes in memory instead of repeating what it served before.
TEST(mcp_chains, StoredChainsAreNotServedOnceStale) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  ASSERT_TRUE(analyze::analyze_and_store(path).ok());
  auto db = TraceDb::open(path);
  ASSERT_TRUE(db.ok()) << db.error();
  ToolContext ctx(**db);
  EXPECT_TRUE(chains(ctx)["from_store"].get<bool>());
  exec_sql(path,
           "INSERT INTO cuda_call (ts, dur, utid, function_id, ret) SELECT ts + 1, dur, utid, "
           "function_id, ret FROM cuda_call LIMIT 1");
  Json after = chains(ctx);
  EXPECT_FALSE(after["from_store"].get<bool>()) << after.dump(1);
  EXPECT_TRUE(has_category(after, "lock_wait")) << after.dump(1);
}

}  // namespace
}  // namespace causeway::mcp

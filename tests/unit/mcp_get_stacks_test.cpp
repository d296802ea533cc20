// get_stacks on a trace that grows while the server runs (a trace still being recorded): a
// mapping recorded after the first call (dlopen) is used by the next call, instead of the
// symbolizer built for the first call answering "no mapping" for the rest of the session.
// And get_stacks aggregates on the symbolized stack, as `causeway stacks` does: raw stacks
// that show the same frames are one entry. Bad input (an unknown function, a missing event)
// is an error sentence, not an empty aggregate; the text counts the stacks that matched.
// Syscall stacks are those of the intervals blocked in the syscall, and say so.
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

std::string text_of(const Json& r) {
  return r["result"]["content"][0]["text"].get<std::string>();
}

Status host_sync_with_stacks(const std::string& path) {
  causeway::testing::scenarios::host_sync(path, false);
  causeway::testing::give_calls_a_stack(path, 400);
  return Status::Ok();
}

// A function the trace never called is the caller's mistake, said as such (as for an unknown
// tid), with the traced names it probably meant: an empty aggregate would read as "never
// called".
TEST(mcp_get_stacks, UnknownFunctionIsNamedWithTheLikelyOnes) {
  TestServer s({}, host_sync_with_stacks);
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"function", "cudastreamsynchronize"}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "No CUDA function \"cudastreamsynchronize\" in this trace (did you mean "
            "\"cudaStreamSynchronize\"?); get_trace_stats lists the CUDA functions it called.");
  r = s.call_tool("get_stacks", {{"function", "cudaNoSuch"}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "No CUDA function \"cudaNoSuch\" in this trace; get_trace_stats lists the CUDA "
            "functions it called.");
  r = s.call_tool("get_stacks", {{"function", "cudaStreamSynchronize"}});
  EXPECT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_GT(r["result"]["structuredContent"]["matched_events"].get<int64_t>(), 0);
}

TEST(mcp_get_stacks, MissingEventIsNamedAsSuch) {
  TestServer s({}, host_sync_with_stacks);
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"event_table", "cuda_call"}, {"event_id", 999999}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "No cuda_call event with id 999999; ids are per table (see run_sql on cuda_call).");
}

// The count in the text is the number of distinct stacks that matched, and the text says how
// many of them are shown.
TEST(mcp_get_stacks, TruncatedTextCountsMatchedAndShownStacks) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    causeway::testing::give_calls_a_stack(path, 400);
    // A second stack with another caller (another return address in the same file): two
    // distinct stacks.
    exec_sql(path,
             "INSERT INTO stack (id, upid, depth) SELECT 901, upid, 2 FROM process WHERE pid = "
             "400;"
             "INSERT INTO stack_frame (stack_id, depth, pc) VALUES (901, 0, 4198400), (901, 1, "
             "4206592);"
             "UPDATE cuda_call SET stack_id = 901 WHERE stack_id = 900 AND id % 2 = 0");
    return Status::Ok();
  });
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"tid", 400}, {"limit", 1}});
  const Json& out = r["result"]["structuredContent"];
  ASSERT_TRUE(out["stacks"].is_array()) << r.dump();
  EXPECT_EQ(out["stacks"].size(), 1u);
  EXPECT_EQ(out["distinct_stacks"], 2);
  EXPECT_TRUE(out["truncated"].get<bool>());
  EXPECT_NE(text_of(r).find(
                "; 2 distinct stacks (TRUNCATED: showing the 1 with most time; raise limit for "
                "more)."),
            std::string::npos)
      << text_of(r);
  r = s.call_tool("get_stacks", {{"tid", 400}});
  EXPECT_EQ(r["result"]["structuredContent"]["distinct_stacks"], 2);
  EXPECT_NE(text_of(r).find("; 2 distinct stacks. "), std::string::npos) << text_of(r);
}

// With a trace that already used --call-graph dwarf, the ends-early note does not advise it.
TEST(mcp_get_stacks, EndsEarlyNoteOfADwarfTraceAdvisesALargerCopy) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    causeway::testing::give_calls_a_stack(path, 400);
    const std::string u = "(SELECT upid FROM process WHERE pid = 400)";
    exec_sql(path,
             "INSERT INTO symbol (id, function, file, line, module, kind) VALUES (1, 'cuInit', "
             "'/src/driver.cpp', 10, '/nonexistent/app', 'native'), (2, '__pthread_once_slow', "
             "'/src/once.c', 20, '/nonexistent/app', 'native');"
             "INSERT INTO frame_symbol VALUES (" +
                 u + ", 4198400, 0, 1, 0, 4096), (" + u +
                 ", 4202495, 0, 2, 0, 8191);"
                 "INSERT OR REPLACE INTO meta (key, value) VALUES ('symbolized', '1'), "
                 "('call_graph', 'dwarf,8192')");
    return Status::Ok();
  });
  s.initialize();
  const std::string text = text_of(s.call_tool("get_stacks", {{"tid", 400}}));
  EXPECT_NE(text.find("the walk stopped here"), std::string::npos) << text;
  EXPECT_NE(text.find("traced with --call-graph dwarf,8192"), std::string::npos) << text;
  EXPECT_EQ(text.find("unwinds through it"), std::string::npos) << text;
}

// A trace recorded with --no-stacks has no stacks at all: the answer says so and how to get
// them (data and text), instead of a bare "0 with a stack" that reads like a gap.
TEST(mcp_get_stacks, TraceRecordedWithoutStacksSaysSo) {
  TestServer off({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    exec_sql(path,
             "INSERT OR REPLACE INTO meta (key, value) VALUES ('stacks', 'off'), "
             "('call_graph', 'off')");
    return Status::Ok();
  });
  off.initialize();
  auto r = off.call_tool("get_stacks", {{"function", "cudaStreamSynchronize"}});
  EXPECT_FALSE(r["result"]["structuredContent"]["stacks_recorded"].get<bool>()) << r.dump();
  const std::string text = text_of(r);
  EXPECT_EQ(text.rfind("This trace was recorded with --no-stacks", 0), 0u) << text;
  EXPECT_NE(text.find("record it again without --no-stacks"), std::string::npos) << text;

  TestServer on({}, [](const std::string& path) {
    causeway::testing::scenarios::host_sync(path, false);
    causeway::testing::give_calls_a_stack(path, 400);
    return Status::Ok();
  });
  on.initialize();
  r = on.call_tool("get_stacks", {{"tid", 400}});
  EXPECT_TRUE(r["result"]["structuredContent"]["stacks_recorded"].get<bool>()) << r.dump();
  EXPECT_EQ(text_of(r).find("--no-stacks"), std::string::npos) << text_of(r);
}

// causeway records no stack at syscall entry: the stacks "of a syscall" are those of the
// intervals blocked in it (thread_state), which the MCP fixture has one of (a futex wait). This
// adds a second, longer futex wait from another place, a runnable interval still in futex
// (woken, waiting for a CPU: no stack, not blocked), a blocked interval outside any syscall,
// and an fsync blocked uninterruptible on the main thread.
Status fixture_with_blocked_syscalls(const std::string& path) {
  Status st = causeway::testing::write_fixture_trace(path);
  if (!st.ok()) return st;
  const std::string decode = "(SELECT utid FROM thread WHERE tid = 4250)";
  const std::string main = "(SELECT utid FROM thread WHERE tid = 4242)";
  exec_sql(path,
           "INSERT INTO syscall_name (nr, name) VALUES (74, 'fsync');"
           "INSERT INTO stack (id, upid, depth) SELECT 950, upid, 2 FROM process WHERE pid = "
           "4242;"
           "INSERT INTO stack_frame (stack_id, depth, pc) VALUES (950, 0, 139637976748032), "
           "(950, 1, 93823560634368);"
           "INSERT INTO thread_state (ts, dur, utid, state, cpu, syscall_nr, stack_id) VALUES "
           "(70000000, 15000000, " +
               decode +
               ", 2, 3, 202, 950);"
               "INSERT INTO thread_state (ts, dur, utid, state, cpu, syscall_nr) VALUES "
               "(85000000, 100000000, " +
               decode +
               ", 1, 3, 202);"
               "INSERT INTO thread_state (ts, dur, utid, state, cpu, stack_id) VALUES "
               "(190000000, 7000000, " +
               decode +
               ", 3, 3, 950);"
               "INSERT INTO thread_state (ts, dur, utid, state, cpu, syscall_nr, stack_id) VALUES "
               "(200000000, 2000000, " +
               main + ", 3, 0, 74, 3)");
  return Status::Ok();
}

int64_t syscall_id(TestServer& s, const std::string& name) {
  auto r = s.call_tool("run_sql", {{"sql", "SELECT id FROM syscalls WHERE name = '" + name + "'"}});
  return r["result"]["structuredContent"]["rows"][0][0].get<int64_t>();
}

// source syscall with a name: the stacks of the intervals blocked in it, weighted by blocked
// time, with the basis said in the data and in the text's first sentence.
TEST(mcp_get_stacks, SyscallStacksAreTheBlockedIntervals) {
  TestServer s({}, fixture_with_blocked_syscalls);
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"source", "syscall"}, {"syscall", "futex"}});
  const Json& out = r["result"]["structuredContent"];
  ASSERT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(out["basis"], "blocked_intervals");
  EXPECT_EQ(out["source"], "syscall");
  EXPECT_EQ(out["matched_events"], 2);  // not the runnable interval still in futex
  EXPECT_EQ(out["matched_dur_ns"], 15000000 + 4980000);
  EXPECT_EQ(out["events_with_stack"], 2);
  ASSERT_EQ(out["stacks"].size(), 2u) << out.dump(2);
  EXPECT_EQ(out["stacks"][0]["stack_id"], 950);  // most blocked time first
  EXPECT_EQ(out["stacks"][0]["dur_ns"], 15000000);
  EXPECT_NEAR(out["stacks"][0]["share"].get<double>(), 15.0 / 19.98, 1e-9);
  EXPECT_EQ(out["stacks"][1]["dur_ns"], 4980000);
  const std::string text = text_of(r);
  EXPECT_EQ(text.rfind("causeway records no stack at syscall entry; these are the stacks of the 2 "
                       "intervals blocked in futex (20ms total), from thread_state. Calls to "
                       "futex that never blocked have no stack.\n",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("2 blocked intervals, 20ms, 2 with a stack; 2 distinct stacks."),
            std::string::npos)
      << text;

  // The same selection through source thread_state.
  r = s.call_tool("get_stacks", {{"source", "thread_state"}, {"syscall", "futex"}});
  EXPECT_EQ(r["result"]["structuredContent"]["basis"], "blocked_intervals") << r.dump();
  EXPECT_EQ(r["result"]["structuredContent"]["matched_dur_ns"], 15000000 + 4980000);
  r = s.call_tool("get_stacks",
                  {{"source", "thread_state"}, {"syscall", "futex"}, {"state", "sleeping"}});
  EXPECT_EQ(r["result"]["structuredContent"]["matched_events"], 2) << r.dump();
  // Stacks of a plain thread_state selection are not syscall stacks.
  r = s.call_tool("get_stacks", {{"source", "thread_state"}, {"state", "sleeping"}});
  EXPECT_FALSE(r["result"]["structuredContent"].contains("basis")) << r.dump();
}

// source syscall alone: every interval blocked in some syscall (not one blocked outside any,
// not a runnable one), from all threads.
TEST(mcp_get_stacks, SyscallStacksWithoutANameAreAllBlockedSyscalls) {
  TestServer s({}, fixture_with_blocked_syscalls);
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"source", "syscall"}});
  const Json& out = r["result"]["structuredContent"];
  ASSERT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(out["basis"], "blocked_intervals");
  EXPECT_EQ(out["matched_events"], 3);
  EXPECT_EQ(out["matched_dur_ns"], 15000000 + 4980000 + 2000000);
  ASSERT_EQ(out["stacks"].size(), 2u) << out.dump(2);
  EXPECT_EQ(out["stacks"][1]["count"], 2);  // the futex wait and the fsync share a stack
  EXPECT_EQ(text_of(r).rfind("causeway records no stack at syscall entry; these are the stacks "
                             "of the 3 intervals blocked in a syscall (22ms total), from "
                             "thread_state. Syscalls that never blocked have no stack.\n",
                             0),
            0u)
      << text_of(r);
  // One thread's.
  r = s.call_tool("get_stacks", {{"source", "syscall"}, {"tid", 4242}});
  EXPECT_EQ(r["result"]["structuredContent"]["matched_dur_ns"], 2000000) << r.dump();
}

// A syscall that never blocked has no stack, said in one sentence rather than "0 with a
// stack"; an unknown name is an error naming the likely ones.
TEST(mcp_get_stacks, SyscallThatNeverBlockedOrIsUnknownIsSaid) {
  TestServer s({}, fixture_with_blocked_syscalls);
  s.initialize();
  auto r = s.call_tool("get_stacks", {{"source", "syscall"}, {"syscall", "read"}});
  EXPECT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "read never blocked in this trace, so it has no stacks: causeway records stacks "
            "when a thread blocks, not at syscall entry.\n");
  EXPECT_EQ(r["result"]["structuredContent"]["stacks"], Json::array());
  EXPECT_EQ(r["result"]["structuredContent"]["basis"], "blocked_intervals");

  r = s.call_tool("get_stacks", {{"source", "syscall"}, {"syscall", "futx"}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "No syscall \"futx\" in this trace (did you mean \"futex\"?); run_sql on "
            "syscall_name lists the syscall names it knows.");

  // The filter belongs to blocked intervals; a state that is not blocked contradicts it.
  r = s.call_tool("get_stacks",
                  {{"source", "thread_state"}, {"syscall", "futex"}, {"state", "runnable"}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  r = s.call_tool("get_stacks", {{"syscall", "futex"}});  // default source cuda_call
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_NE(text_of(r).find("source syscall"), std::string::npos) << text_of(r);
}

// A syscall event's stack is the stack of the interval it blocked in.
TEST(mcp_get_stacks, SyscallEventHasTheStackOfTheIntervalItBlockedIn) {
  TestServer s;
  s.initialize();
  const int64_t futex = syscall_id(s, "futex");
  auto r = s.call_tool("get_stacks", {{"event_table", "syscall"}, {"event_id", futex}});
  const Json& out = r["result"]["structuredContent"];
  ASSERT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(out["basis"], "blocked_intervals");
  EXPECT_EQ(out["matched_events"], 1);
  EXPECT_EQ(out["matched_dur_ns"], 4980000);
  ASSERT_EQ(out["stacks"].size(), 1u) << out.dump(2);
  EXPECT_EQ(out["stacks"][0]["count"], 1);
  EXPECT_EQ(text_of(r).rfind("causeway records no stack at syscall entry; this is the stack of "
                             "the 1 interval syscall " +
                                 std::to_string(futex) +
                                 " blocked in (4.98ms total), from thread_state.\n",
                             0),
            0u)
      << text_of(r);

  const int64_t read = syscall_id(s, "read");
  r = s.call_tool("get_stacks", {{"event_table", "syscall"}, {"event_id", read}});
  EXPECT_NE(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r), "Syscall " + std::to_string(read) +
                            " never blocked, so it has no stack: causeway records stacks when a "
                            "thread blocks, not at syscall entry.\n");
  EXPECT_EQ(r["result"]["structuredContent"]["stacks"], Json::array());

  r = s.call_tool("get_stacks", {{"event_table", "syscall"}, {"event_id", 999999}});
  EXPECT_EQ(r["result"]["isError"], true) << r.dump();
  EXPECT_EQ(text_of(r),
            "No syscall event with id 999999; ids are per table (see run_sql on syscall).");
}

}  // namespace
}  // namespace causeway::mcp

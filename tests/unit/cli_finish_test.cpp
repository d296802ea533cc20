// `causeway finish` on a trace whose recorder was killed (simulated: complete = 0, no indexes,
// nothing stored): indexes, symbols and chains stored; and the note `explain`/`stats` print on
// such a trace until it is finished.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "fixtures/own_mappings.h"
#include "fixtures/scenarios.h"
#include "fixtures/stack_fixture.h"
#include "store/schema.h"
#include "support/test_support.h"

// A kernel's host function, in this test binary (named namespace: a predictable name).
namespace finish_probe {
volatile int g_marker = 0;
__attribute__((noinline, noipa)) void scale_kernel(float*, int) {
  g_marker = 1;
}
}  // namespace finish_probe

namespace causeway::testing {
namespace {

// What a killed recorder leaves: every committed row, complete = 0, no indexes, no chains.
std::string interrupted_trace(const TempDir& dir) {
  const std::string path = dir.file("killed.db");
  scenarios::lock_wait(path, false);
  std::string sql = "UPDATE meta SET value = '0' WHERE key IN ('complete', 'indexed');";
  for (const store::IndexDef& i : store::schema().indexes) {
    sql += "DROP INDEX IF EXISTS " + std::string(i.name) + ";";
  }
  exec_sql(path, sql);
  return path;
}

TEST(CliFinishTest, FinishesAnInterruptedTraceAndExplainSaysWhenItIsNeeded) {
  TempDir dir;
  const std::string path = interrupted_trace(dir);
  ASSERT_EQ(query_int(path,
                      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name "
                      "NOT LIKE 'sqlite_autoindex%'"),
            0);

  CommandResult before = run_command({causeway_binary(), "explain", "--db", path});
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.err.find("was not closed cleanly"), std::string::npos) << before.err;
  EXPECT_NE(before.err.find("causeway finish --db " + path), std::string::npos) << before.err;
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM causal_chain"), 0);  // nothing stored yet
  CommandResult stats = run_command({causeway_binary(), "stats", "--db", path});
  EXPECT_NE(stats.err.find("was not closed cleanly"), std::string::npos) << stats.err;

  CommandResult fin = run_command({causeway_binary(), "finish", "--db", path});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  EXPECT_NE(fin.out.find("Finished " + path), std::string::npos) << fin.out;
  EXPECT_EQ(query_int(path, "SELECT value FROM meta WHERE key = 'indexed'"), 1);
  EXPECT_EQ(query_int(path, "SELECT value FROM meta WHERE key = 'complete'"), 0);  // still honest
  EXPECT_EQ(query_int(path,
                      "SELECT count(*) FROM meta WHERE key = 'finished_by' AND value LIKE "
                      "'causeway %'"),
            1);
  EXPECT_EQ(query_int(path,
                      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name "
                      "NOT LIKE 'sqlite_autoindex%'"),
            static_cast<int64_t>(store::schema().indexes.size()));
  EXPECT_GT(query_int(path, "SELECT count(*) FROM causal_chain"), 0);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM analysis_result WHERE name = 'trace_stats'"), 1);

  CommandResult after = run_command({causeway_binary(), "explain", "--db", path});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.err, "");
  EXPECT_EQ(after.out, before.out);  // the same chains, now stored
}

// The end of `causeway trace` symbolizes and stores the stacks; a killed recorder never got
// there, so finish does it (docs/stacks.md "When").
// The end of `causeway trace` names launched kernels with the stacks; finish does it too. The
// interrupted trace gets this test process's mappings and one cudaLaunchKernel of a function
// of this binary, as capture would have recorded them.
TEST(CliFinishTest, NamesTheKernelsOfRuntimeLaunches) {
  TempDir dir;
  const std::string path = interrupted_trace(dir);
  const std::string upid = "(SELECT upid FROM process WHERE pid = 700)";
  std::string sql;
  for (const auto& m : own_mappings(700)) {
    sql +=
        "INSERT INTO mapping (upid, start_addr, end_addr, file_offset, path, build_id) "
        "VALUES (" +
        upid + ", " + std::to_string(static_cast<int64_t>(m.start)) + ", " +
        std::to_string(static_cast<int64_t>(m.end)) + ", " +
        std::to_string(static_cast<int64_t>(m.file_offset)) + ", '" + m.path + "', " +
        (m.build_id.empty() ? std::string("NULL") : "'" + m.build_id + "'") + ");";
  }
  const auto addr = reinterpret_cast<int64_t>(&finish_probe::scale_kernel);
  sql +=
      "INSERT INTO string (str) VALUES ('cudaLaunchKernel');"
      "INSERT INTO cuda_kernel (id, upid, addr) VALUES (900, " +
      upid + ", " + std::to_string(addr) +
      ");"
      "UPDATE cuda_call SET kernel_id = 900, function_id = (SELECT max(id) FROM string) "
      "WHERE id = (SELECT min(c.id) FROM cuda_call c JOIN thread t ON t.utid = c.utid "
      "WHERE t.upid = " +
      upid + ");";
  exec_sql(path, sql);
  ASSERT_EQ(query_int(path, "SELECT count(*) FROM cuda_call WHERE kernel_id = 900"), 1);

  CommandResult fin = run_command({causeway_binary(), "finish", "--db", path});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  EXPECT_NE(fin.out.find(", 1 of 1 launched kernels named, "), std::string::npos) << fin.out;
  EXPECT_EQ(query_int(path,
                      "SELECT count(*) FROM cuda_calls WHERE kernel = "
                      "'finish_probe::scale_kernel(float*, int)'"),
            1);
}

TEST(CliFinishTest, StoresTheSymbolizedStacksAsTheEndOfATraceWould) {
  TempDir dir;
  const std::string path = interrupted_trace(dir);
  give_calls_a_stack(path, 700);
  ASSERT_GT(query_int(path, "SELECT count(*) FROM cuda_call WHERE stack_id IS NOT NULL"), 0);
  ASSERT_EQ(query_int(path, "SELECT count(*) FROM meta WHERE key = 'symbolized'"), 0);
  CommandResult before = run_command({causeway_binary(), "stacks", "--db", path});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_NE(before.out.find(kStackFrame0), std::string::npos) << before.out;

  CommandResult fin = run_command({causeway_binary(), "finish", "--db", path});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  // Two distinct addresses, both in a file that is not on this machine: stored, and said so.
  EXPECT_NE(fin.out.find("Finished " + path +
                         ": indexes built, 2 stack addresses symbolized (2 left as "
                         "module+offset with the reason; docs/stacks.md), "),
            std::string::npos)
      << fin.out;
  EXPECT_EQ(fin.err, "");
  EXPECT_EQ(query_int(path, "SELECT value FROM meta WHERE key = 'symbolized'"), 1);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM frame_symbol"), 2);
  // The documented SQL works: each call's merged stack, as `causeway stacks` prints it.
  EXPECT_EQ(query_int(path,
                      "SELECT count(*) FROM merged_stack_symbols WHERE merged_stack_id = (SELECT "
                      "merged_stack_id FROM cuda_calls WHERE stack_id IS NOT NULL LIMIT 1) AND "
                      "kind = 'binary_missing'"),
            2);

  CommandResult after = run_command({causeway_binary(), "stacks", "--db", path});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, before.out);  // the same frames, now read from the file

  // Finishing again keeps the stored symbols rather than symbolizing anew (by then the
  // binaries may have been upgraded).
  exec_sql(path, "UPDATE symbol SET function = 'kept' WHERE id = 1");
  CommandResult again = run_command({causeway_binary(), "finish", "--db", path});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("indexes built, stacks already symbolized, "), std::string::npos)
      << again.out;
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM symbol WHERE function = 'kept'"), 1);
}

TEST(CliFinishTest, ATraceWithoutStacksSaysSo) {
  TempDir dir;
  const std::string path = interrupted_trace(dir);
  CommandResult fin = run_command({causeway_binary(), "finish", "--db", path});
  ASSERT_EQ(fin.exit_code, 0) << fin.err;
  EXPECT_NE(fin.out.find("indexes built, no stacks to symbolize, "), std::string::npos) << fin.out;
}

TEST(CliFinishTest, CompleteTracesNeedNothing) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  CommandResult r = run_command({causeway_binary(), "finish", "--db", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nothing to finish"), std::string::npos) << r.out;
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM meta WHERE key = 'finished_by'"), 0);
}

TEST(CliFinishTest, RefusesATraceStillBeingRecordedAndBadFiles) {
  TempDir dir;
  const std::string path = interrupted_trace(dir);
  // A recorder holds an exclusive flock on the file while it writes.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  CommandResult live = run_command({causeway_binary(), "finish", "--db", path});
  EXPECT_EQ(live.exit_code, 1);
  EXPECT_NE(live.err.find("still being recorded"), std::string::npos) << live.err;
  CommandResult note = run_command({causeway_binary(), "stats", "--db", path});
  EXPECT_NE(note.err.find("still being recorded"), std::string::npos) << note.err;
  close(fd);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM meta WHERE key = 'finished_by'"), 0);

  CommandResult missing = run_command({causeway_binary(), "finish", "--db", dir.file("no.db")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

}  // namespace
}  // namespace causeway::testing

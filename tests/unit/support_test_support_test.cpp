// The shared test helpers that poke at files and trace databases (tests/support): a helper
// that silently did nothing would make the tests using it pass without testing anything.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "fixtures/sched_trace.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

TEST(SupportTestSupportTest, ReadFileReturnsTheExactBytes) {
  TempDir dir;
  const std::string bytes("a\0b\r\n\xFF", 6);
  std::ofstream(dir.file("f"), std::ios::binary) << bytes;
  EXPECT_EQ(read_file(dir.file("f")), bytes);
  EXPECT_EQ(read_file(dir.file("missing")), "");
}

TEST(SupportTestSupportTest, ExecSqlWritesAndQueryIntReads) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  exec_sql(db, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (40), (2);");
  EXPECT_EQ(query_int(db, "SELECT sum(x) FROM t"), 42);
  EXPECT_EQ(query_int(db, "SELECT x FROM t WHERE x > 100"), -1);  // no row
  EXPECT_EQ(query_int(db, "SELECT nonsense FROM nowhere"), -1);   // an error
  EXPECT_EQ(query_int(dir.file("missing.db"), "SELECT 1"), -1);
}

TEST(SupportTestSupportTest, ExecSqlReportsAFailedStatement) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  EXPECT_NONFATAL_FAILURE(exec_sql(db, "INSERT INTO no_such_table VALUES (1)"),
                          "no such table: no_such_table");
}

// verify_trace is what the privileged tests rely on to say a recorded trace is consistent:
// it must say "" only for a consistent trace.
TEST(SupportTestSupportTest, VerifyTraceGivesTheViolationsOrNothing) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  EXPECT_EQ(verify_trace(db), "");
  exec_sql(db, "UPDATE thread SET upid = 993 WHERE tid = 201");
  EXPECT_EQ(verify_trace(db), "thread utid " +
                                  std::to_string(query_int(db,
                                                           "SELECT utid FROM thread WHERE "
                                                           "tid = 201")) +
                                  " has upid 993, but process has no upid 993.\n");
  EXPECT_NE(verify_trace(dir.file("missing.db")).find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace causeway::testing

// ReadBudget: a deadline or a cancel check stops SQL on every trace connection of the thread
// (issue 16: a trace whose table was a recursive view kept the analysis busy forever, and a
// client's cancel did not reach the analysis' private scan connection).
#include "store/read_budget.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>

#include "store/reader.h"
#include "store/writer.h"
#include "support/test_support.h"

namespace causeway::store {
namespace {

constexpr const char* kEndless =
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r";

std::string make_trace(const testing::TempDir& dir) {
  const std::string path = dir.file("run.db");
  auto w = Writer::create(path, WriterOptions{});
  EXPECT_TRUE(w.ok()) << w.error();
  EXPECT_TRUE((*w)->close().ok());
  return path;
}

TEST(StoreReadBudget, ADeadlineStopsEveryTraceConnection) {
  testing::TempDir dir;
  const std::string path = make_trace(dir);
  auto reader = Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error();
  auto own = open_trace_connection(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  ASSERT_TRUE(own.ok()) << own.error();
  for (sqlite3* db : {(*reader)->db(), *own}) {
    ReadBudget budget(std::chrono::milliseconds(50));
    EXPECT_EQ(sqlite3_exec(db, kEndless, nullptr, nullptr, nullptr), SQLITE_INTERRUPT);
    EXPECT_TRUE(budget.timed_out());
    EXPECT_NE(budget.reason().find("time limit"), std::string::npos) << budget.reason();
  }
  // Without a budget in scope, statements are not limited.
  EXPECT_EQ(sqlite3_exec(*own, "SELECT count(*) FROM meta", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close_v2(*own);
}

TEST(StoreReadBudget, CancelStopsAndBudgetsNest) {
  testing::TempDir dir;
  const std::string path = make_trace(dir);
  auto reader = Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error();
  ReadBudget outer(std::chrono::hours(1));
  {
    int polls = 0;
    ReadBudget inner(std::chrono::hours(1), [&] { return ++polls > 2; });
    EXPECT_EQ(sqlite3_exec((*reader)->db(), kEndless, nullptr, nullptr, nullptr), SQLITE_INTERRUPT);
    EXPECT_TRUE(inner.cancelled());
    EXPECT_EQ(inner.reason(), "Cancelled by the client.");
  }
  EXPECT_FALSE(outer.stopped());
  EXPECT_EQ(sqlite3_exec((*reader)->db(), "SELECT 1", nullptr, nullptr, nullptr), SQLITE_OK);
}

}  // namespace
}  // namespace causeway::store

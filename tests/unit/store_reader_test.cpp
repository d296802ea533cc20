// Reader: read-only access, meta helpers, and one clear sentence for each bad file.
#include "store/reader.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/schema.h"
#include "store/writer.h"
#include "support/test_support.h"

namespace causeway::store {
namespace {

using testing::exec_sql;
using testing::read_file;

std::string make_trace(const testing::TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name);
  auto w = Writer::create(path, WriterOptions{});
  EXPECT_TRUE(w.ok()) << w.error();
  EXPECT_TRUE((*w)->set_meta("tool_version", "9.9.9").ok());
  EXPECT_TRUE((*w)->add(WakeupRow{5, 1, 1, 0, 0, 0, {}}).ok());
  EXPECT_TRUE((*w)->close().ok());
  return path;
}

void expect_error(const std::string& path, const std::string& sentence) {
  auto r = Reader::open(path);
  ASSERT_FALSE(r.ok()) << path;
  EXPECT_EQ(r.error(), sentence);
}

TEST(StoreReader, OpensATraceReadOnly) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "run.db");
  const std::string before = read_file(path);
  auto r = Reader::open(path);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r)->schema_version(), kSchemaVersion);
  EXPECT_EQ((*r)->path(), path);
  EXPECT_EQ((*r)->meta("tool_version"), "9.9.9");
  EXPECT_FALSE((*r)->meta("no_such_key").has_value());
  EXPECT_EQ((*r)->meta_int("schema_version"), kSchemaVersion);
  EXPECT_FALSE((*r)->meta_int("tool_version").has_value());  // not an integer
  EXPECT_EQ((*r)->count_rows("wakeup"), 1);
  EXPECT_FALSE((*r)->count_rows("wakeup; DROP TABLE meta").has_value());
  for (const char* sql : {"INSERT INTO meta VALUES ('x', 'y')", "DELETE FROM wakeup",
                          "CREATE TABLE evil (x)", "PRAGMA user_version = 7"}) {
    EXPECT_NE(sqlite3_exec((*r)->db(), sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }
  r->reset();
  EXPECT_EQ(read_file(path), before);
}

TEST(StoreReader, FinishedMeansCompleteOrFinishedBy) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "run.db");
  auto finished = [&] {
    auto r = Reader::open(path);
    EXPECT_TRUE(r.ok()) << r.error();
    if (!r.ok()) return false;
    EXPECT_EQ((*r)->finished(), trace_finished((*r)->db()));
    return (*r)->finished();
  };
  EXPECT_TRUE(finished());  // closed by its Writer: complete = 1
  exec_sql(path, "UPDATE meta SET value = '0' WHERE key = 'complete'");
  EXPECT_FALSE(finished());  // what a killed recorder leaves
  exec_sql(path, "INSERT INTO meta (key, value) VALUES ('finished_by', 'causeway test')");
  EXPECT_TRUE(finished());  // completed by `causeway finish`
  exec_sql(path, "DELETE FROM meta WHERE key IN ('complete', 'finished_by')");
  EXPECT_FALSE(finished());
}

TEST(StoreReader, MissingPath) {
  testing::TempDir dir;
  expect_error(dir.file("nope.db"), dir.file("nope.db") + " does not exist; check the --db path.");
  EXPECT_FALSE(Reader::open("").ok());
}

TEST(StoreReader, UnreadablePath) {
  testing::TempDir dir;
  std::ofstream(dir.file("plain")) << "x";
  // A path through a regular file fails even for root (chmod would not stop root).
  expect_error(dir.file("plain/run.db"),
               dir.file("plain/run.db") + " cannot be read: Not a directory.");
}

TEST(StoreReader, Directory) {
  testing::TempDir dir;
  expect_error(dir.path(), dir.path() + " is a directory, not a causeway trace database.");
}

TEST(StoreReader, EmptyFile) {
  testing::TempDir dir;
  std::ofstream(dir.file("empty.db")).flush();
  expect_error(dir.file("empty.db"),
               dir.file("empty.db") + " is empty; it is not a causeway trace database.");
}

TEST(StoreReader, NotSqlite) {
  testing::TempDir dir;
  std::ofstream(dir.file("notes.txt")) << "these are not the droids you are looking for\n";
  expect_error(dir.file("notes.txt"),
               dir.file("notes.txt") + " is not a SQLite database, so not a causeway trace.");
  std::ofstream(dir.file("short")) << "SQLite";
  expect_error(dir.file("short"),
               dir.file("short") + " is not a SQLite database, so not a causeway trace.");
}

TEST(StoreReader, SqliteButNotCauseway) {
  testing::TempDir dir;
  exec_sql(dir.file("other.db"), "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  expect_error(dir.file("other.db"), dir.file("other.db") +
                                         " is a SQLite database but not a causeway trace "
                                         "(application_id 0x00000000).");
}

TEST(StoreReader, NewerSchemaVersion) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "future.db");
  exec_sql(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 6));
  expect_error(path, path + " was written by a newer causeway (schema " +
                         std::to_string(kSchemaVersion + 6) + ", this build reads up to " +
                         std::to_string(kSchemaVersion) + "); upgrade causeway.");
}

TEST(StoreReader, UnknownSchemaVersion) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "zero.db");
  exec_sql(path, "PRAGMA user_version = 0");
  expect_error(path, path +
                         " is a causeway trace of an unknown schema version (0); it cannot "
                         "be read by this build.");
}

// Issue 16: a FIFO (or device) as the trace blocked open() forever waiting for a writer.
TEST(StoreReader, FifoIsRefusedWithoutBlocking) {
  testing::TempDir dir;
  const std::string fifo = dir.file("trace.db");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string sentence =
      fifo +
      " is not a regular file (a FIFO, socket or device), so not a causeway trace "
      "database.";
  expect_error(fifo, sentence);
  EXPECT_EQ(check_regular_file(fifo).message(), sentence);
  EXPECT_FALSE(open_trace_connection(fifo, SQLITE_OPEN_READONLY).ok());
  expect_error("/dev/null",
               "/dev/null is not a regular file (a FIFO, socket or device), so not a causeway "
               "trace database.");
}

// Issue 16: schema objects the file brings. A table replaced by a recursive view made every
// command spin; triggers fired when results were stored.
TEST(StoreReader, RefusesSchemasThatAreNotOurs) {
  testing::TempDir dir;
  struct Case {
    const char* sql;
    const char* why;
  };
  const Case cases[] = {
      {"DROP TABLE wakeup; CREATE VIEW wakeup AS WITH RECURSIVE r(id) AS (SELECT 1 UNION ALL "
       "SELECT id + 1 FROM r) SELECT id FROM r",
       "its wakeup is a view, not a table;"},
      {"CREATE TRIGGER evil AFTER INSERT ON meta BEGIN DELETE FROM wakeup; END",
       "it has a trigger (evil);"},
      {"CREATE VIEW extra AS SELECT 1",
       "it has a view extra that is not part of the trace schema;"},
      {"DROP VIEW threads; CREATE VIEW threads AS SELECT 1 AS utid",
       "its view threads is not the one causeway defines;"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = make_trace(dir, "t" + std::to_string(i++) + ".db");
    exec_sql(path, c.sql);
    expect_error(path, path + " is not a trace as causeway writes it: " + c.why +
                           " causeway never writes that, so the file was altered; it is not "
                           "read.");
  }
  // Extra tables and indexes are harmless and allowed.
  const std::string extra = make_trace(dir, "extra.db");
  exec_sql(extra, "CREATE TABLE notes (x); CREATE INDEX notes_x ON notes (x)");
  EXPECT_TRUE(Reader::open(extra).ok());
}

// Issue 16: times that overflow the analysis (ts shifted by 2^62, -2^63) or are not integers.
TEST(StoreReader, EventValuesMustBeIntegerTimesInRange) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "run.db");
  {
    auto r = Reader::open(path);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(check_event_values((*r)->db()).ok());
  }
  struct Case {
    const char* sql;
    const char* sentence;
  };
  const Case cases[] = {
      {"UPDATE wakeup SET ts = ts + 4611686018427387904",
       "wakeup.ts in row 1 is 4611686018427387909 ns, outside what a trace can hold (±2^52 "
       "ns, about 52 days); the file is damaged or was crafted, so it is not analysed."},
      {"UPDATE wakeup SET ts = -9223372036854775808",
       "wakeup.ts in row 1 is -9223372036854775808 ns, outside what a trace can hold (±2^52 "
       "ns, about 52 days); the file is damaged or was crafted, so it is not analysed."},
      {"UPDATE wakeup SET ts = 'late'",
       "wakeup.ts in row 1 holds a text value where an integer time in ns belongs; the file is "
       "damaged or was crafted, so it is not analysed."},
      {"UPDATE wakeup SET ts = 5.5e30",
       "wakeup.ts in row 1 holds a real value where an integer time in ns belongs; the file is "
       "damaged or was crafted, so it is not analysed."},
      {"INSERT INTO thread (utid, tid, traced, end_ts) VALUES (77, 77, 1, x'00')",
       "thread.end_ts in row 77 holds a blob value where an integer time in ns belongs; the "
       "file is damaged or was crafted, so it is not analysed."},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string p = dir.file("v" + std::to_string(i++) + ".db");
    std::filesystem::copy_file(path, p);
    exec_sql(p, c.sql);
    auto r = Reader::open(p);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(check_event_values((*r)->db()).message(), c.sentence) << c.sql;
  }
}

// Issue 16: results are stored through a hardened connection; the file's triggers never run.
TEST(StoreReader, HardenedConnectionsRunNoTriggers) {
  testing::TempDir dir;
  const std::string path = make_trace(dir, "run.db");
  exec_sql(path,
           "CREATE TABLE log (x); CREATE TRIGGER t AFTER INSERT ON meta BEGIN INSERT "
           "INTO log VALUES (1); END");
  auto db = open_trace_connection(path, SQLITE_OPEN_READWRITE);
  ASSERT_TRUE(db.ok()) << db.error();
  ASSERT_EQ(sqlite3_exec(*db, "INSERT INTO meta (key, value) VALUES ('k', 'v')", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close_v2(*db);
  EXPECT_EQ(testing::query_int(path, "SELECT count(*) FROM log"), 0);
  EXPECT_EQ(testing::query_int(path, "SELECT count(*) FROM meta WHERE key = 'k'"), 1);
}

}  // namespace
}  // namespace causeway::store

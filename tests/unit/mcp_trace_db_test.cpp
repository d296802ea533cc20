// The read-only SQL engine: legitimate reads work; an attack corpus of hostile statements
// is refused or bounded, and the trace file is byte-for-byte unchanged afterwards.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "mcp/mcp_fixture.h"
#include "mcp/sha256.h"
#include "mcp/trace_db.h"
#include "support/test_support.h"

namespace causeway::mcp {
namespace {

using causeway::testing::TempDir;

std::string file_hash(const std::string& path) {
  return sha256_hex(causeway::testing::read_file(path));
}

class mcp_trace_db : public ::testing::Test {
 protected:
  void SetUp() override {
    path = dir.file("trace.db");
    Status st = causeway::testing::write_fixture_trace(path);
    ASSERT_TRUE(st.ok()) << st.message();
    auto opened = TraceDb::open(path);
    ASSERT_TRUE(opened.ok()) << opened.error();
    db = std::move(*opened);
  }
  TempDir dir;
  std::string path;
  std::unique_ptr<TraceDb> db;
};

TEST_F(mcp_trace_db, ReadsWork) {
  auto r = db->query("SELECT count(*) AS n FROM cuda_calls WHERE function = 'cudaLaunchKernel'");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->columns, std::vector<std::string>{"n"});
  EXPECT_EQ(r->rows.at(0)[0], 20);
  EXPECT_TRUE(db->query("PRAGMA table_info(meta)").ok());
  // Table-valued pragma functions make SQLite ask for UPDATE on sqlite_master; refused.
  EXPECT_FALSE(db->query("SELECT name FROM pragma_table_info('cuda_call')").ok());
  auto hex = db->query(
      "SELECT printf('%#x', 255), format('%5d|%s', 7, 'a'), pc_hex FROM stack_frames LIMIT 1");
  ASSERT_TRUE(hex.ok()) << hex.error();
  EXPECT_EQ(hex->rows[0][0], "0xff");
  EXPECT_EQ(hex->rows[0][1], "    7|a");
  EXPECT_TRUE(hex->rows[0][2].is_string());
  EXPECT_TRUE(db->query("EXPLAIN QUERY PLAN SELECT * FROM cuda_call WHERE utid = 2").ok());
  EXPECT_TRUE(db->query("SELECT 1; -- trailing comment\n /* and block */ ;").ok());
  EXPECT_TRUE(db->query("WITH x AS (SELECT ts FROM cuda_call) SELECT max(ts) FROM x").ok());
  auto p = db->query("SELECT ?1 + ?2", {Json(1), Json(2)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->rows[0][0], 3);
  EXPECT_TRUE(db->has_table("cuda_call"));
  EXPECT_TRUE(db->has_table("causal_chain"));  // in the schema: empty until analysed
  EXPECT_FALSE(db->has_table("no_such_table"));
}

// Issue 16 item 19: a refusal names the statement the client wrote, and the read-only table
// functions json_each / json_tree work (they used to be refused as "UPDATE").
TEST_F(mcp_trace_db, RefusalsNameTheStatementAndJsonTablesWork) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"DROP TABLE cuda_call", "Refused: DROP TABLE is not allowed"},
      {"DROP VIEW cuda_calls", "Refused: DROP VIEW is not allowed"},
      {"/* hi */ drop index if exists cuda_call_by_thread", "Refused: DROP INDEX is not allowed"},
      {"CREATE TABLE evil (x)", "Refused: CREATE TABLE is not allowed"},
      {"ALTER TABLE meta RENAME TO evil", "Refused: ALTER TABLE is not allowed"},
      {"DELETE FROM cuda_call", "Refused: DELETE is not allowed"},
      {"UPDATE meta SET value = 'x'", "Refused: UPDATE is not allowed"},
      {"INSERT INTO meta VALUES ('a', 'b')", "Refused: INSERT is not allowed"},
  };
  for (const auto& [sql, want] : cases) {
    auto r = db->query(sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_EQ(r.error().rfind(want, 0), 0u) << sql << " → " << r.error();
  }
  auto each = db->query("SELECT count(*) AS n FROM json_each('[1,2,3]')");
  ASSERT_TRUE(each.ok()) << each.error();
  EXPECT_EQ(each->rows.at(0).at(0), 3);
  auto tree = db->query(
      R"(SELECT group_concat(key) AS k FROM json_tree('{"a":{"b":1}}') WHERE type = 'integer')");
  ASSERT_TRUE(tree.ok()) << tree.error();
  EXPECT_EQ(tree->rows.at(0).at(0), "b");
  auto joined =
      db->query("SELECT m.key, j.value FROM meta m, json_each('[\"x\"]') j ORDER BY m.key LIMIT 1");
  EXPECT_TRUE(joined.ok()) << joined.error();
  // Writes through them stay refused.
  EXPECT_FALSE(db->query("DELETE FROM json_each('[1]')").ok());
}

TEST_F(mcp_trace_db, RowCapSetsTruncated) {
  QueryLimits l;
  l.max_rows = 5;
  auto r = db->query("SELECT id FROM cuda_call", {}, l);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.size(), 5u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->truncated_by, "rows");
  l.max_rows = 1000;
  auto all = db->query("SELECT id FROM cuda_call", {}, l);
  EXPECT_FALSE(all->truncated);
}

TEST_F(mcp_trace_db, RefusesNonCausewayFiles) {
  std::ofstream(dir.file("junk.db")) << "not a database";
  auto r = TraceDb::open(dir.file("junk.db"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("junk.db"), std::string::npos);
  EXPECT_FALSE(TraceDb::open(dir.file("missing.db")).ok());
  sqlite3* plain = nullptr;
  sqlite3_open(dir.file("plain.db").c_str(), &plain);
  sqlite3_exec(plain, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
  sqlite3_close(plain);
  auto p = TraceDb::open(dir.file("plain.db"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().find("causeway"), std::string::npos) << p.error();
}

TEST(mcp_authorizer, PolicyAllowsOnlyReads) {
  EXPECT_EQ(authorize_action(SQLITE_SELECT, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(authorize_action(SQLITE_READ, "meta", "key"), SQLITE_OK);
  EXPECT_EQ(authorize_action(SQLITE_FUNCTION, nullptr, "count"), SQLITE_OK);
  EXPECT_EQ(authorize_action(SQLITE_FUNCTION, nullptr, "LOAD_EXTENSION"), SQLITE_DENY);
  EXPECT_EQ(authorize_action(SQLITE_FUNCTION, nullptr, "readfile"), SQLITE_DENY);
  EXPECT_EQ(authorize_action(SQLITE_PRAGMA, "table_info", "meta"), SQLITE_OK);
  EXPECT_EQ(authorize_action(SQLITE_PRAGMA, "writable_schema", "1"), SQLITE_DENY);
  EXPECT_EQ(authorize_action(SQLITE_PRAGMA, "user_version", nullptr), SQLITE_DENY);
  for (int action : {SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_ATTACH, SQLITE_DETACH,
                     SQLITE_CREATE_TABLE, SQLITE_CREATE_TEMP_TABLE, SQLITE_DROP_TABLE,
                     SQLITE_ALTER_TABLE, SQLITE_TRANSACTION, SQLITE_SAVEPOINT, SQLITE_ANALYZE,
                     SQLITE_REINDEX, SQLITE_CREATE_VTABLE}) {
    EXPECT_EQ(authorize_action(action, "x", "y"), SQLITE_DENY) << action;
  }
}

// How a hostile statement must end: refused outright, or run but bounded.
enum class Expect { kRefused, kBounded };

struct Attack {
  std::string sql;
  Expect expect;
};

std::vector<Attack> attack_corpus(const std::string& dir) {
  std::string nested = "SELECT ";
  for (int i = 0; i < 300; ++i) nested += "(1+";
  nested += "1";
  for (int i = 0; i < 300; ++i) nested += ")";
  std::string compound = "SELECT 1";
  for (int i = 0; i < 80; ++i) compound += " UNION ALL SELECT 1";
  std::string huge_sql = "SELECT '" + std::string(200000, 'x') + "'";
  return {
      // Writes.
      {"INSERT INTO meta VALUES ('host', 'evil')", Expect::kRefused},
      {"INSERT OR REPLACE INTO meta VALUES ('host', 'evil')", Expect::kRefused},
      {"REPLACE INTO meta VALUES ('host', 'evil')", Expect::kRefused},
      {"UPDATE meta SET value = 'evil'", Expect::kRefused},
      {"UPDATE cuda_call SET dur = 0 WHERE id = 1", Expect::kRefused},
      {"DELETE FROM cuda_call", Expect::kRefused},
      {"INSERT INTO string (id, str) SELECT 999999, 'x'", Expect::kRefused},
      {"WITH x AS (SELECT 1) DELETE FROM meta", Expect::kRefused},
      {"WITH x AS (SELECT 'a', 'b') INSERT INTO meta SELECT * FROM x", Expect::kRefused},
      {"INSERT INTO cuda_call DEFAULT VALUES RETURNING *", Expect::kRefused},
      // DDL.
      {"DROP TABLE cuda_call", Expect::kRefused},
      {"DROP VIEW cuda_calls", Expect::kRefused},
      {"DROP INDEX IF EXISTS cuda_call_by_thread", Expect::kRefused},
      {"CREATE TABLE evil (x)", Expect::kRefused},
      {"CREATE TABLE evil AS SELECT * FROM meta", Expect::kRefused},
      {"CREATE INDEX evil ON cuda_call (ts)", Expect::kRefused},
      {"CREATE VIEW evil AS SELECT 1", Expect::kRefused},
      {"CREATE TRIGGER evil AFTER INSERT ON meta BEGIN SELECT 1; END", Expect::kRefused},
      {"CREATE VIRTUAL TABLE evil USING fts5(x)", Expect::kRefused},
      {"ALTER TABLE meta ADD COLUMN evil", Expect::kRefused},
      {"ALTER TABLE meta RENAME TO evil", Expect::kRefused},
      // Temp objects.
      {"CREATE TEMP TABLE t (x)", Expect::kRefused},
      {"CREATE TEMPORARY VIEW v AS SELECT 1", Expect::kRefused},
      {"CREATE TABLE temp.t AS SELECT * FROM meta", Expect::kRefused},
      {"INSERT INTO temp.t VALUES (1)", Expect::kRefused},
      // ATTACH / DETACH / VACUUM INTO (would create or write other files).
      {"ATTACH DATABASE '" + dir + "/evil.db' AS evil", Expect::kRefused},
      {"ATTACH ':memory:' AS m", Expect::kRefused},
      {"ATTACH 'file:" + dir + "/evil2.db?mode=rwc' AS e", Expect::kRefused},
      {"DETACH DATABASE main", Expect::kRefused},
      {"VACUUM", Expect::kRefused},
      {"VACUUM INTO '" + dir + "/copy.db'", Expect::kRefused},
      {"VACUUM main INTO '" + dir + "/copy2.db'", Expect::kRefused},
      // Schema tampering.
      {"PRAGMA writable_schema = 1", Expect::kRefused},
      {"PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = 'x'", Expect::kRefused},
      {"UPDATE sqlite_master SET sql = 'CREATE TABLE x(y)' WHERE name = 'meta'", Expect::kRefused},
      {"DELETE FROM sqlite_master", Expect::kRefused},
      {"PRAGMA trusted_schema = 1", Expect::kRefused},
      // PRAGMAs that write or loosen limits.
      {"PRAGMA journal_mode = DELETE", Expect::kRefused},
      {"PRAGMA user_version = 99", Expect::kRefused},
      {"PRAGMA application_id = 1", Expect::kRefused},
      {"PRAGMA query_only = 0", Expect::kRefused},
      {"PRAGMA main.locking_mode = EXCLUSIVE", Expect::kRefused},
      {"PRAGMA wal_checkpoint(TRUNCATE)", Expect::kRefused},
      {"PRAGMA incremental_vacuum", Expect::kRefused},
      {"PRAGMA optimize", Expect::kRefused},
      {"PRAGMA hard_heap_limit = 0", Expect::kRefused},
      {"PRAGMA soft_heap_limit = 0", Expect::kRefused},
      {"PRAGMA cache_size = -100000000", Expect::kRefused},
      {"PRAGMA mmap_size = 1000000000000", Expect::kRefused},
      {"PRAGMA temp_store_directory = '" + dir + "'", Expect::kRefused},
      {"PRAGMA foreign_keys = OFF", Expect::kRefused},
      // Transactions and maintenance.
      {"BEGIN IMMEDIATE", Expect::kRefused},
      {"BEGIN EXCLUSIVE TRANSACTION", Expect::kRefused},
      {"COMMIT", Expect::kRefused},
      {"SAVEPOINT s1", Expect::kRefused},
      {"REINDEX", Expect::kRefused},
      {"ANALYZE", Expect::kRefused},
      // Several statements and comment tricks.
      {"SELECT 1; DROP TABLE meta", Expect::kRefused},
      {"SELECT 1; SELECT 2", Expect::kRefused},
      {"SELECT 1 /* harmless */ ; DELETE FROM meta", Expect::kRefused},
      {"SELECT 1 -- comment\n; INSERT INTO meta VALUES (1, 2)", Expect::kRefused},
      {"/* SELECT */ DELETE FROM meta", Expect::kRefused},
      {"-- SELECT\nDROP TABLE meta", Expect::kRefused},
      {"SELECT 1;\n\n;DELETE FROM meta", Expect::kRefused},
      {std::string("SELECT 1\0; DROP TABLE meta", 26), Expect::kRefused},
      {"", Expect::kRefused},
      {"   -- only a comment", Expect::kRefused},
      // Functions that reach outside the database.
      {"SELECT load_extension('" + dir + "/evil.so')", Expect::kRefused},
      {"SELECT readfile('/etc/passwd')", Expect::kRefused},
      {"SELECT writefile('" + dir + "/x', 'y')", Expect::kRefused},
      {"SELECT fts3_tokenizer('simple')", Expect::kRefused},
      // Resource bombs: refused by a limit or stopped/bounded while running.
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
       Expect::kBounded},
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
       Expect::kBounded},
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
       "SELECT group_concat(x) FROM c",
       Expect::kBounded},
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) "
       "SELECT randomblob(900000) FROM c",
       Expect::kBounded},
      {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) "
       "SELECT x, zeroblob(100000) FROM c",
       Expect::kBounded},
      {"SELECT randomblob(1000000000)", Expect::kBounded},
      {"SELECT zeroblob(2000000000)", Expect::kBounded},
      {"SELECT printf('%.*c', 2000000000, 'x')", Expect::kBounded},
      {"SELECT printf('%.2000000000c', 'x')", Expect::kBounded},
      {"SELECT format('%*.*c', 5, 999999999, 'x')", Expect::kBounded},
      // Issue 16: a negative precision counts as its absolute value, and %n takes no argument
      // (the old guard read the wrong argument for the following '*').
      {"SELECT printf('%.*c', -2000000000, 'x')", Expect::kBounded},
      {"SELECT printf('%n%.*c', 2000000000, 'x')", Expect::kBounded},
      {"SELECT printf('%%%n%-0,!*.*c', 5, -2000000000, 'x')", Expect::kBounded},
      {"SELECT printf('%.*c', -2000000000, 'x'), printf('%n%.*c', 2000000000, 'x'), "
       "format('%.*c', -2000000000, 'y')",
       Expect::kBounded},
      // One trim call compares every stripped character with the whole character set.
      {"SELECT length(ltrim(printf('%.*c', 999999, 'a'), printf('%.*c', 83000, 'b') || 'a'))",
       Expect::kBounded},
      {"SELECT length(rtrim(printf('%.*c', 999999, 'a'), printf('%.*c', 83000, 'b') || 'a'))",
       Expect::kBounded},
      {"SELECT length(trim(printf('%.*c', 999999, 'a'), printf('%.*c', 83000, 'b') || 'a'))",
       Expect::kBounded},
      {"SELECT instr(printf('%.*c', 999999, 'a'), printf('%.*c', 99999, 'a') || 'b')",
       Expect::kBounded},
      {"SELECT printf('%.*c', 999999, 'a') LIKE '%' || printf('%.*c', 998, 'a') || 'b'",
       Expect::kBounded},
      {"SELECT printf('%.*c', 999999, 'a') GLOB '*' || printf('%.*c', 998, 'a') || 'b'",
       Expect::kBounded},
      {"SELECT replace(hex(zeroblob(400000)), '0', hex(zeroblob(400000)))", Expect::kBounded},
      {"SELECT count(*) FROM cuda_call a, cuda_call b, cuda_call c, cuda_call d, cuda_call e, "
       "cuda_call f, cuda_call g",
       Expect::kBounded},
      {"SELECT * FROM cuda_call a, cuda_call b, cuda_call c ORDER BY random()", Expect::kBounded},
      {nested, Expect::kBounded},
      {compound, Expect::kBounded},
      {huge_sql, Expect::kBounded},
  };
}

TEST_F(mcp_trace_db, AttackCorpusIsRefusedOrBoundedAndTheFileIsUnchanged) {
  const std::string before = file_hash(path);
  const bool had_wal = std::filesystem::exists(path + "-wal");
  auto corpus = attack_corpus(dir.path());
  ASSERT_GE(corpus.size(), 50u);
  QueryLimits limits;
  limits.time_limit_ms = 300;
  limits.max_rows = 1000;
  limits.max_result_bytes = 2 * 1024 * 1024;
  int refused = 0, bounded = 0;
  for (const Attack& a : corpus) {
    SCOPED_TRACE(a.sql.substr(0, 160));
    auto start = std::chrono::steady_clock::now();
    auto r = db->query(a.sql, {}, limits);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    EXPECT_LT(ms, 3000) << "not bounded in time";
    if (a.expect == Expect::kRefused) {
      ASSERT_FALSE(r.ok()) << "a hostile statement ran";
      EXPECT_FALSE(r.error().empty());
      ++refused;
    } else {
      // Either stopped with an error naming the limit, or completed within the caps.
      if (r.ok()) {
        EXPECT_LE(r->rows.size(), 1000u);
        EXPECT_LE(r->result_bytes, limits.max_result_bytes);
      }
      ++bounded;
    }
  }
  EXPECT_GE(refused + bounded, 50);
  // Still usable afterwards.
  auto ok = db->query("SELECT count(*) FROM meta");
  ASSERT_TRUE(ok.ok()) << ok.error();
  db.reset();
  EXPECT_EQ(file_hash(path), before) << "the trace file changed";
  EXPECT_EQ(std::filesystem::exists(path + "-wal"), had_wal);
  for (const char* f : {"evil.db", "evil2.db", "copy.db", "copy2.db", "x"}) {
    EXPECT_FALSE(std::filesystem::exists(dir.file(f))) << f << " was created";
  }
}

// The guarded functions answer exactly as SQLite's built-ins within their bounds.
TEST_F(mcp_trace_db, GuardedFunctionsKeepTheirResults) {
  auto r = db->query(
      "SELECT ltrim('xxabcxx', 'x'), rtrim('xxabcxx', 'x'), trim('xxabcxx', 'x'), "
      "replace('a-b-c', '-', '+'), instr('hello', 'll'), printf('%5.2f|%-3d|%n%%|%.*c', 3.14159, "
      "7, 3, 'z'), format('%s', 'q')");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->rows[0],
            Json::parse(R"(["abcxx", "xxabc", "abc", "a+b+c", 3, " 3.14|7  |%|zzz", "q"])"));
  auto refused =
      db->query("SELECT ltrim(printf('%.*c', 999999, 'a'), printf('%.*c', 83000, 'b') || 'a')");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("ltrim is refused"), std::string::npos) << refused.error();
}

// A sort larger than the heap limit fails with one sentence instead of spilling temp files
// (8.1 GB of /var/tmp/etilqs_* in the security review): temp storage is in memory, under the
// hard heap limit.
TEST(mcp_trace_db_heap, AHugeSortFailsInsteadOfFillingTheDisk) {
  TempDir dir;
  const std::string path = dir.file("trace.db");
  Status st = causeway::testing::write_fixture_trace(path);
  ASSERT_TRUE(st.ok()) << st.message();
  EngineLimits limits;
  limits.soft_heap_bytes = 16LL * 1024 * 1024;
  limits.hard_heap_bytes = 48LL * 1024 * 1024;
  auto db = TraceDb::open(path, limits);
  ASSERT_TRUE(db.ok()) << db.error();
  QueryLimits q;
  q.time_limit_ms = 60'000;  // generous: the heap limit must stop it, not the clock
  auto r = (*db)->query(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) "
      "SELECT x FROM c ORDER BY randomblob(1000)",
      {}, q);
  ASSERT_FALSE(r.ok()) << "a 200 MB sort ran under a 48 MB heap limit";
  EXPECT_NE(r.error().find("more memory than the server allows"), std::string::npos) << r.error();
  db->reset();
  // The limits are process-wide: give the other tests of this process the defaults back.
  sqlite3_soft_heap_limit64(EngineLimits{}.soft_heap_bytes);
  sqlite3_hard_heap_limit64(EngineLimits{}.hard_heap_bytes);
}

TEST_F(mcp_trace_db, RefusalsExplainThemselves) {
  auto w = db->query("DELETE FROM meta");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("read-only"), std::string::npos) << w.error();
  auto m = db->query("SELECT 1; SELECT 2");
  EXPECT_NE(m.error().find("one statement"), std::string::npos) << m.error();
  QueryLimits l;
  l.time_limit_ms = 100;
  auto t = db->query(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
      "SELECT count(*) FROM c",
      {}, l);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("time limit"), std::string::npos) << t.error();
}

TEST_F(mcp_trace_db, CancellationStopsAQuery) {
  QueryControl control;
  int polls = 0;
  control.cancelled = [&] { return ++polls > 3; };
  auto r = db->query(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
      "SELECT count(*) FROM c",
      {}, QueryLimits{}, control);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("Cancelled"), std::string::npos);
}

TEST_F(mcp_trace_db, ProgressIsReported) {
  QueryControl control;
  std::vector<int64_t> seen;
  control.progress_interval_ms = 20;
  control.on_progress = [&](int64_t ms) { seen.push_back(ms); };
  QueryLimits l;
  l.time_limit_ms = 200;
  auto r = db->query(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
      "SELECT count(*) FROM c",
      {}, l, control);
  EXPECT_FALSE(r.ok());
  EXPECT_GE(seen.size(), 2u);
}

}  // namespace
}  // namespace causeway::mcp

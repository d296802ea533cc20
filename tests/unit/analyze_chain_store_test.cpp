// Stored chains and statistics: stored by writers, reused while current, recomputed when the
// analysis version or the trace changes, and never written by readers.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "analyze/chain_store.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using namespace analyze;

bool has_table(const std::string& path, const char* table) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
  const bool found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return found;
}

// Rows in causal_chain, 0 when the table does not exist. Traces recorded by this build have
// the (empty) table from the start; a file written by an older build may not.
int64_t stored_chain_rows(const std::string& path) {
  if (!has_table(path, "causal_chain")) return 0;
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM causal_chain", -1, &s, nullptr);
  const int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(AnalyzeChainStoreTest, ReadersNeverWriteAndComputeInMemory) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::noisy_neighbour(path, false);
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  auto r = store::Reader::open(path);
  ASSERT_TRUE(r.ok()) << r.error();
  bool from_store = true;
  auto chains = chains_for_reader((*r)->db(), ExplainOptions{}, &from_store);
  ASSERT_TRUE(chains.ok()) << chains.error();
  EXPECT_FALSE(from_store);
  EXPECT_FALSE(chains->empty());
  auto stats = stats_for_reader((*r)->db(), &from_store);
  ASSERT_TRUE(stats.ok());
  EXPECT_FALSE(from_store);
  EXPECT_EQ(stored_chain_rows(path), 0);
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_size, after.st_size);
  EXPECT_EQ(before.st_mtime, after.st_mtime);
}

TEST(AnalyzeChainStoreTest, StoredResultsAreReusedUntilStale) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  ASSERT_TRUE(analyze_and_store(path).ok());
  ASSERT_GT(stored_chain_rows(path), 0);
  {
    auto r = store::Reader::open(path);
    ASSERT_TRUE(r.ok()) << r.error();
    bool from_store = false;
    auto chains = chains_for_reader((*r)->db(), ExplainOptions{}, &from_store);
    ASSERT_TRUE(chains.ok());
    EXPECT_TRUE(from_store);
    auto fresh = compute_chains((*r)->db(), ExplainOptions{});
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(chains_to_json(*chains), chains_to_json(*fresh));
    auto stats = stats_for_reader((*r)->db(), &from_store);
    ASSERT_TRUE(stats.ok());
    EXPECT_TRUE(from_store);
    EXPECT_EQ(to_json(*stats), to_json(compute_stats((*r)->db()).value()));
    // A pid filter applies to stored chains; a time window is analysed afresh.
    ExplainOptions o;
    o.pid = 1;
    EXPECT_TRUE(chains_for_reader((*r)->db(), o)->empty());
  }
  // An older analysis version: stale.
  exec_sql(path, "UPDATE meta SET value = '0' WHERE key = 'analysis_version'");
  {
    auto r = store::Reader::open(path);
    auto stored = load_stored_chains((*r)->db());
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->has_value());
  }
  // Restored version, but the trace gained an event: stale again.
  ASSERT_TRUE(analyze_and_store(path).ok());
  exec_sql(path,
           "INSERT INTO cuda_call (ts, dur, utid, function_id, ret) SELECT ts + 1, dur, utid, "
           "function_id, ret FROM cuda_call LIMIT 1");
  {
    auto r = store::Reader::open(path);
    auto stored = load_stored_chains((*r)->db());
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->has_value());
  }
}

TEST(AnalyzeChainStoreTest, WritersStoreOnlyCompleteTraces) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  exec_sql(path, "UPDATE meta SET value = '0' WHERE key = 'complete'");
  auto r = store::Reader::open(path);
  ASSERT_TRUE(r.ok());
  auto chains = chains_for_writer((*r)->db(), path, ExplainOptions{});
  ASSERT_TRUE(chains.ok()) << chains.error();
  EXPECT_FALSE(chains->empty());
  EXPECT_EQ(stored_chain_rows(path), 0);
}

// A trace whose recorder was killed, once `causeway finish` marked it (meta finished_by), is
// stored like a complete one.
TEST(AnalyzeChainStoreTest, WritersStoreFinishedInterruptedTraces) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  exec_sql(path,
           "UPDATE meta SET value = '0' WHERE key = 'complete'; INSERT INTO meta (key, value) "
           "VALUES ('finished_by', 'causeway test')");
  auto r = store::Reader::open(path);
  ASSERT_TRUE(r.ok());
  auto chains = chains_for_writer((*r)->db(), path, ExplainOptions{});
  ASSERT_TRUE(chains.ok()) << chains.error();
  EXPECT_EQ(stored_chain_rows(path), static_cast<int64_t>(chains->size()));
}

// `causeway finish` hands its finished_by mark to analyze_and_store: the mark and the results
// are committed together, or neither is (a failed store leaves the trace unfinished).
TEST(AnalyzeChainStoreTest, FinishedByIsStoredWithTheResultsOrNotAtAll) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  // The statistics row cannot be inserted (a CHECK no row passes), after the chains were:
  // triggers cannot inject the failure, since files with triggers are refused (issue 16).
  exec_sql(path,
           "UPDATE meta SET value = '0' WHERE key = 'complete'; DROP TABLE analysis_result; "
           "CREATE TABLE analysis_result (name TEXT PRIMARY KEY, json TEXT NOT NULL, "
           "CONSTRAINT disk_gone CHECK (json IS NULL));");
  const std::string finished =
      "SELECT count(*) FROM meta WHERE key = 'finished_by' AND value = 'causeway test'";
  Status failed = analyze_and_store(path, std::string("causeway test"));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("disk_gone"), std::string::npos) << failed.message();
  EXPECT_EQ(query_int(path, finished), 0);
  EXPECT_EQ(stored_chain_rows(path), 0);  // the chains stored before the failure rolled back
  {
    auto r = store::Reader::open(path);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_FALSE((*r)->finished());
  }

  exec_sql(path, "DROP TABLE analysis_result");  // the analysis creates it again
  ASSERT_TRUE(analyze_and_store(path, std::string("causeway test")).ok());
  EXPECT_EQ(query_int(path, finished), 1);
  EXPECT_GT(stored_chain_rows(path), 0);
  auto r = store::Reader::open(path);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE((*r)->finished());
  // Without a mark (the end of `causeway trace`) nothing is added to meta.
  exec_sql(path, "DELETE FROM meta WHERE key = 'finished_by'");
  ASSERT_TRUE(analyze_and_store(path).ok());
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM meta WHERE key = 'finished_by'"), 0);
}

// Files written before the result tables were part of the schema get them from the analysis,
// with the schema's definition.
TEST(AnalyzeChainStoreTest, AnalysisCreatesItsTablesInOlderFiles) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::lock_wait(path, false);
  exec_sql(path, "DROP TABLE causal_chain; DROP TABLE analysis_result");
  ASSERT_FALSE(has_table(path, "causal_chain"));
  ASSERT_TRUE(analyze_and_store(path).ok());
  EXPECT_GT(stored_chain_rows(path), 0);
  EXPECT_TRUE(has_table(path, "analysis_result"));
}

TEST(AnalyzeChainStoreTest, StoredChainsAreQueryableWithSql) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::data_loader(path, false);
  ASSERT_TRUE(analyze_and_store(path).ok());
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT category, severity, tid, json_extract(json, "
                               "'$.culprit.comm') FROM causal_chain WHERE id = 1",
                               -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "data_loader");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)), "high");
  EXPECT_EQ(sqlite3_column_int(s, 2), 300);
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 3))).rfind("loader-", 0),
      0u);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

}  // namespace
}  // namespace causeway::testing

// Schema-as-code: the DDL is valid, the documentation matches the database, docs/schema.md is
// current. Regenerate docs/schema.md with CAUSEWAY_UPDATE_DOCS=1 <build>/store_schema_test.
#include "store/schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace causeway::store {
namespace {

struct MemoryDb {
  sqlite3* db = nullptr;
  MemoryDb() { sqlite3_open(":memory:", &db); }
  ~MemoryDb() { sqlite3_close(db); }
};

std::vector<std::string> columns_of(sqlite3* db, std::string_view name) {
  std::vector<std::string> out;
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT name FROM pragma_table_info('" + std::string(name) + "')";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  return out;
}

TEST(StoreSchema, DdlCreatesEveryTableViewAndIndex) {
  MemoryDb m;
  char* err = nullptr;
  const std::string ddl = schema_ddl() + schema_index_ddl();
  ASSERT_EQ(sqlite3_exec(m.db, ddl.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  for (const TableDef& t : schema().tables) {
    std::vector<std::string> want;
    for (const ColumnDef& c : t.columns) want.emplace_back(c.name);
    EXPECT_EQ(columns_of(m.db, t.name), want) << t.name;
  }
  // The documented view columns are exactly what the views return, in order.
  for (const ViewDef& v : schema().views) {
    std::vector<std::string> want;
    for (const ColumnDef& c : v.columns) want.emplace_back(c.name);
    EXPECT_EQ(columns_of(m.db, v.name), want) << v.name;
    const std::string q = "SELECT * FROM " + std::string(v.name);
    EXPECT_EQ(sqlite3_exec(m.db, q.c_str(), nullptr, nullptr, &err), SQLITE_OK) << v.name;
  }
}

TEST(StoreSchema, EveryColumnIsDescribed) {
  for (const TableDef& t : schema().tables) {
    EXPECT_FALSE(t.meaning.empty()) << t.name;
    for (const ColumnDef& c : t.columns) {
      EXPECT_FALSE(c.meaning.empty()) << t.name << "." << c.name;
      EXPECT_FALSE(c.type.empty()) << t.name << "." << c.name;
      // Time columns say they are nanoseconds.
      if (c.name == "ts" || c.name == "dur" || c.name.ends_with("_ts")) {
        EXPECT_EQ(c.unit, "ns") << t.name << "." << c.name;
      }
    }
  }
}

TEST(StoreSchema, ExampleQueriesRun) {
  MemoryDb m;
  const std::string ddl = schema_ddl();
  ASSERT_EQ(sqlite3_exec(m.db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  for (const ExampleQuery& e : schema().examples) {
    char* err = nullptr;
    const std::string sql(e.sql);
    EXPECT_EQ(sqlite3_exec(m.db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << e.question << ": " << (err ? err : "");
    sqlite3_free(err);
  }
}

TEST(StoreSchema, TextForAgentsNamesEverything) {
  const std::string text = schema_text();
  for (const TableDef& t : schema().tables) {
    EXPECT_NE(text.find(std::string(t.name) + " -- "), std::string::npos) << t.name;
  }
  for (const ViewDef& v : schema().views) {
    EXPECT_NE(text.find(std::string(v.name) + " -- "), std::string::npos) << v.name;
  }
  EXPECT_NE(text.find("origin_monotonic_ns"), std::string::npos);
  EXPECT_NE(text.find("EXAMPLES"), std::string::npos);
}

TEST(StoreSchema, DocsSchemaMdIsCurrent) {
  const std::string path = testing::source_path("docs/schema.md");
  const std::string want = schema_markdown();
  const char* update = std::getenv("CAUSEWAY_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << want;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream have;
  have << in.rdbuf();
  EXPECT_TRUE(have.str() == want) << "docs/schema.md is stale; regenerate it with `make docs` or "
                                     "`CAUSEWAY_UPDATE_DOCS=1 <build>/store_schema_test`.";
}

TEST(StoreSchema, PackedDimsRoundTrip) {
  const uint32_t cases[][3] = {
      {1, 1, 1},     {256, 1, 1},     {4096, 2, 3}, {0, 0, 0}, {2147483647, 65535, 65535},
      {7, 0, 65535}, {1024, 1024, 64}};
  for (const auto& c : cases) {
    uint32_t back[3];
    unpack_dim3(pack_dim3(c), back);
    EXPECT_EQ(back[0], c[0]);
    EXPECT_EQ(back[1], c[1]);
    EXPECT_EQ(back[2], c[2]);
  }
  const uint32_t common[3] = {256, 1, 1};
  EXPECT_EQ(pack_dim3(common), 256);  // the common case costs 2 bytes on disk
  // The views' SQL unpacking agrees with unpack_dim3.
  MemoryDb m;
  const uint32_t odd[3] = {300, 7, 0};
  const std::string sql =
      "SELECT v & 2147483647, ((v >> 31) + 1) & 65535, ((v >> 47) + 1) & "
      "65535 FROM (SELECT " +
      std::to_string(pack_dim3(odd)) + " AS v)";
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(m.db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 300);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), 7);
  EXPECT_EQ(sqlite3_column_int64(stmt, 2), 0);
  sqlite3_finalize(stmt);
}

}  // namespace
}  // namespace causeway::store

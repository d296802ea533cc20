// The sample investigations (investigations/*.db, scripts/make-investigations.sh) still work
// with this build: each opens with the current schema from a read-only checkout, is at most
// 2 MB, stores chains and statistics that are current and match a fresh analysis, tells the
// story its README promises (top category), and can be served over MCP.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "store/reader.h"
#include "store/schema.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

constexpr const char* kRegenerate =
    " Regenerate the samples: sudo scripts/make-investigations.sh <build dir>.";

struct Sample {
  const char* name;
  std::vector<std::string> top_categories;  // accepted category of chain #1
};

void PrintTo(const Sample& s, std::ostream* os) {
  *os << s.name;
}

class InvestigationTest : public ::testing::TestWithParam<Sample> {};

TEST_P(InvestigationTest, OpensWithTheCurrentSchemaAndIsSmall) {
  const std::string path = source_path(std::string("investigations/") + GetParam().name + ".db");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path << " is missing." << kRegenerate;
  EXPECT_LE(st.st_size, 2 * 1024 * 1024) << path << " is larger than 2 MB.";
  auto reader = store::Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error() << kRegenerate;
  EXPECT_EQ((*reader)->schema_version(), store::kSchemaVersion)
      << path << " has schema " << (*reader)->schema_version() << ", this build writes "
      << store::kSchemaVersion << "." << kRegenerate;
  EXPECT_EQ((*reader)->meta("complete").value_or(""), "1");
  // A rollback-journal database opens in a read-only directory; a WAL one would need its
  // -shm file created next to it.
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*reader)->db(), "PRAGMA journal_mode", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "delete") << kRegenerate;
  sqlite3_finalize(q);
  struct stat wal {};
  EXPECT_NE(stat((path + "-wal").c_str(), &wal), 0) << "a -wal file lies next to " << path;
}

TEST_P(InvestigationTest, StoredChainsMatchAFreshAnalysis) {
  const std::string path = source_path(std::string("investigations/") + GetParam().name + ".db");
  auto reader = store::Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error() << kRegenerate;
  sqlite3* db = (*reader)->db();
  auto stored = analyze::load_stored_chains(db);
  ASSERT_TRUE(stored.ok()) << stored.error();
  ASSERT_TRUE(stored->has_value())
      << path << " has no current stored chains (the analysis or schema changed)." << kRegenerate;
  auto stats = analyze::load_stored_stats(db);
  ASSERT_TRUE(stats.ok()) << stats.error();
  EXPECT_TRUE(stats->has_value()) << kRegenerate;
  auto fresh = analyze::compute_chains(db, {});
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  const auto& s = **stored;
  const auto& f = *fresh;
  ASSERT_EQ(s.size(), f.size()) << kRegenerate;
  ASSERT_FALSE(f.empty());
  for (size_t i = 0; i < s.size(); ++i) {
    SCOPED_TRACE("chain #" + std::to_string(f[i].id));
    EXPECT_EQ(s[i].id, f[i].id);
    EXPECT_EQ(s[i].category, f[i].category);
    EXPECT_EQ(s[i].severity, f[i].severity);
    EXPECT_EQ(s[i].kind, f[i].kind);
    EXPECT_EQ(s[i].function, f[i].function);
    EXPECT_EQ(s[i].subject.tid, f[i].subject.tid);
    EXPECT_EQ(s[i].culprit.has_value(), f[i].culprit.has_value());
    if (s[i].culprit && f[i].culprit) {
      EXPECT_EQ(s[i].culprit->tid, f[i].culprit->tid);
      EXPECT_EQ(s[i].culprit->comm, f[i].culprit->comm);
    }
    EXPECT_EQ(s[i].impact_ns, f[i].impact_ns);
    EXPECT_EQ(s[i].evidence.size(), f[i].evidence.size());
  }
  const auto& accepted = GetParam().top_categories;
  EXPECT_NE(std::find(accepted.begin(), accepted.end(), f[0].category), accepted.end())
      << "the top chain of " << path << " is " << f[0].category << ": " << f[0].summary;
}

TEST_P(InvestigationTest, ReadmeTellsItsStory) {
  const std::string readme = read_file(source_path("investigations/README.md"));
  const std::string name = GetParam().name;
  EXPECT_NE(readme.find("\n## " + name + "\n"), std::string::npos) << "no section for " << name;
  // The generated block holds this database's explain output.
  const std::string begin = "<!-- BEGIN causeway explain " + name + " -->";
  const size_t b = readme.find(begin);
  ASSERT_NE(b, std::string::npos);
  const size_t e = readme.find("<!-- END causeway explain " + name + " -->", b);
  ASSERT_NE(e, std::string::npos);
  EXPECT_NE(readme.substr(b, e - b).find(GetParam().top_categories.front().substr(0, 4)),
            std::string::npos)
      << "the README's explain block for " << name << " is empty or stale." << kRegenerate;
}

TEST_P(InvestigationTest, ServedOverMcpWithAnAuditLogElsewhere) {
  const std::string path = source_path(std::string("investigations/") + GetParam().name + ".db");
  TempDir dir;
  const std::string input =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"investigations_test","version":"1"}}})"
      "\n"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
      "\n"
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_causal_chains","arguments":{}}})"
      "\n";
  struct stat before {};
  stat(path.c_str(), &before);
  CommandResult r = run_command(
      {causeway_binary(), "mcp", "--db", path, "--audit-log", dir.file("audit.jsonl")}, {}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"id\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(GetParam().top_categories.front().substr(0, 4)), std::string::npos)
      << r.out.substr(0, 2000);
  struct stat after {};
  stat(path.c_str(), &after);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

INSTANTIATE_TEST_SUITE_P(investigations, InvestigationTest,
                         ::testing::Values(Sample{"dataloader", {"data_loader", "lock_wait"}},
                                           Sample{"noisy_neighbor", {"cpu_contention"}},
                                           Sample{"host_sync", {"host_sync"}},
                                           Sample{"alloc_churn", {"allocator_churn"}}),
                         [](const ::testing::TestParamInfo<Sample>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace causeway::testing

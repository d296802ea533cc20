// `causeway explain` end to end on fixture databases: golden outputs, stored chains, filters
// and clear errors for bad input.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/scenarios.h"
#include "support/golden.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using Builder = void (*)(const std::string&, bool);

struct Case {
  const char* name;
  Builder build;
};

const Case kCases[] = {
    {"noisy_neighbour", &scenarios::noisy_neighbour},
    {"data_loader", &scenarios::data_loader},
    {"host_sync", &scenarios::host_sync},
    {"allocator_churn", &scenarios::allocator_churn},
    {"pageable_copy", &scenarios::pageable_copy},
    {"lock_wait", &scenarios::lock_wait},
};

int64_t stored_chain_rows(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM causal_chain", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    n = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(CliExplainTest, GoldenOutputPerScenario) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string db = dir.file("trace.db");
    c.build(db, false);
    CommandResult r = run_command({causeway_binary(), "explain", "--db", db});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(check_golden(std::string("explain/") + c.name + ".txt", r.out), "");
  }
}

// The failures, end to end: who held the CPU, a peer rank, the recorder's stops.
TEST(CliExplainTest, GoldenOutputOfDiagnosisCases) {
  const std::pair<const char*, void (*)(const std::string&)> cases[] = {
      {"cpu_attribution", [](const std::string& p) { scenarios::spinner_behind_helper(p); }},
      {"peer_wait", [](const std::string& p) { scenarios::peer_ranks(p, false); }},
      {"recorder", [](const std::string& p) { scenarios::recorder_stops(p, true); }},
  };
  for (const auto& [name, build] : cases) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string db = dir.file("trace.db");
    build(db);
    CommandResult r = run_command({causeway_binary(), "explain", "--db", db});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(check_golden(std::string("explain/") + name + ".txt", r.out), "");
  }
}

TEST(CliExplainTest, HealthyTwinsRaiseNoHighSeverityChain) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string db = dir.file("trace.db");
    c.build(db, true);
    CommandResult r = run_command({causeway_binary(), "explain", "--db", db, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& ch : nlohmann::json::parse(r.out)["chains"]) {
      EXPECT_NE(ch["severity"], "high") << ch.dump(2);
    }
  }
}

TEST(CliExplainTest, JsonGoldenAndStoredChainsAreReused) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::lock_wait(db, false);
  CommandResult first = run_command({causeway_binary(), "explain", "--db", db, "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(check_golden("explain/lock_wait.json", first.out), "");
  // The complete, writable trace now holds its chains; the second run reads them back.
  EXPECT_GT(stored_chain_rows(db), 0);
  CommandResult second = run_command({causeway_binary(), "explain", "--db", db, "--json"});
  EXPECT_EQ(second.out, first.out);
  CommandResult again =
      run_command({causeway_binary(), "explain", "--db", db, "--json", "--recompute"});
  EXPECT_EQ(again.out, first.out);
}

TEST(CliExplainTest, TopAndPidFilter) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::noisy_neighbour(db, false);
  CommandResult r = run_command({causeway_binary(), "explain", "--db", db, "--json", "--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["chains"].size(), 1u);
  EXPECT_EQ(j["chains"][0]["category"], "cpu_contention");
  EXPECT_EQ(j["chains"][0]["culprit"]["comm"], "burner");
  // The text header counts every chain and says how many --top shows.
  const std::string two = dir.file("two.db");
  scenarios::spinner_behind_helper(two);  // contention and a (real) loader wait: 2 chains
  CommandResult all = run_command({causeway_binary(), "explain", "--db", two, "--json"});
  const size_t n = nlohmann::json::parse(all.out)["chains"].size();
  ASSERT_GE(n, 2u) << all.out;
  r = run_command({causeway_binary(), "explain", "--db", two, "--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(std::to_string(n) + " causal chains (", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("; showing the top 1,"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n#2 "), std::string::npos) << r.out;
  r = run_command({causeway_binary(), "explain", "--db", db, "--json", "--pid", "31337"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["chains"].size(), 0u);
  r = run_command({causeway_binary(), "explain", "--db", db, "--until", "100ms"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("No causal chains"), std::string::npos) << r.out;
}

TEST(CliExplainTest, TraceWithoutCudaCallsSaysSo) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  {
    TraceBuilder b(db);
    b.process(10, "sh");
    b.thread(10, 10, "sh").run(5 * kMs);
  }
  CommandResult r = run_command({causeway_binary(), "explain", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(check_golden("explain/no_cuda.txt", r.out), "");
}

// Names come from the traced system and may be any bytes (comm is not UTF-8 checked by the
// kernel): explain and stats must still answer, showing U+FFFD, and store their results.
TEST(CliExplainTest, NamesThatAreNotUtf8DoNotBreakExplainOrStats) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::noisy_neighbour(db, false);
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h,
                           "UPDATE process SET name = CAST(X'FF6261636B7570' AS TEXT);"
                           "UPDATE thread SET name = CAST(X'C0FE' AS TEXT);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  CommandResult r = run_command({causeway_binary(), "explain", "--db", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\xef\xbf\xbd"), std::string::npos) << r.out;  // U+FFFD
  EXPECT_GT(stored_chain_rows(db), 0);
  r = run_command({causeway_binary(), "stats", "--db", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
}

void expect_one_sentence_error(const CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(CliExplainTest, BadInputIsOneSentence) {
  TempDir dir;
  expect_one_sentence_error(
      run_command({causeway_binary(), "explain", "--db", dir.file("missing.db")}), "missing.db");
  std::ofstream(dir.file("notes.txt")) << "not a database at all, just some text\n";
  expect_one_sentence_error(
      run_command({causeway_binary(), "explain", "--db", dir.file("notes.txt")}), "notes.txt");
  scenarios::lock_wait(dir.file("t.db"), false);
  expect_one_sentence_error(
      run_command({causeway_binary(), "explain", "--db", dir.file("t.db"), "--since", "soon"}),
      "--since");
  CommandResult r = run_command({causeway_binary(), "explain"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--db"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace causeway::testing

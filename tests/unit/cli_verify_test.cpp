// `causeway verify` end to end: exit codes (0 consistent, 1 violations, 2 bad input), the
// text verdict line, --json, --max-per-check, every kind of bad input, the help golden.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/sched_trace.h"
#include "support/golden.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

std::string last_line(const std::string& text) {
  if (text.empty()) return "";
  const size_t from = text.rfind('\n', text.size() - 2);
  return from == std::string::npos ? text : text.substr(from + 1);
}

TEST(CliVerifyTest, ConsistentTraceExitsZeroWithAnOkVerdict) {
  TempDir dir;
  const std::string db = dir.file("run.db");
  consistent_sched_trace(db);
  CommandResult r = run_command({causeway_binary(), "verify", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(last_line(r.out), "OK: " + db + " passed 7 of 7 checks.\n");
  EXPECT_NE(r.out.find("cpu_exclusive: ok\n"), std::string::npos) << r.out;
}

TEST(CliVerifyTest, ViolationsExitOneWithSentencesAndAFailedVerdict) {
  TempDir dir;
  const std::string db = dir.file("run.db");
  consistent_sched_trace(db, [](SchedTrace& t) {
    for (int i = 0; i < 3; ++i) t.running(100, 101, 0, 100 + i * 100, 50);
  });
  CommandResult r = run_command({causeway_binary(), "verify", "--db", db});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("cpu_exclusive: 6 violations (each CPU runs one task at a time"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  - thread_state "), std::string::npos) << r.out;
  EXPECT_EQ(last_line(r.out), "FAILED: " + db + " has 9 violations in 2 of 7 checks.\n");

  r = run_command({causeway_binary(), "verify", "--db", db, "--max-per-check", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("  ... and 2 more running intervals of different threads overlapping on "
                       "one CPU.\n"),
            std::string::npos)
      << r.out;

  r = run_command({causeway_binary(), "verify", "--db", db, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  ASSERT_EQ(j["checks"].size(), 7u);
  std::vector<std::string> names;
  for (const auto& c : j["checks"]) {
    names.push_back(c["name"]);
    for (const char* key : {"violations", "examples", "summaries", "skipped", "notes"}) {
      EXPECT_TRUE(c.contains(key)) << key;
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cpu_exclusive", "thread_intervals",
                                             "runnable_coverage", "unique_live_ids", "references",
                                             "chain_evidence", "waker_context"}));
  EXPECT_EQ(j["checks"][0]["violations"], 6);
  EXPECT_EQ(j["checks"][1]["violations"], 3);
  EXPECT_EQ(j["checks"][1]["examples"].size(), 3u);
}

TEST(CliVerifyTest, JsonOfAConsistentTraceIsOk) {
  TempDir dir;
  const std::string db = dir.file("run.db");
  consistent_sched_trace(db);
  CommandResult r = run_command({causeway_binary(), "verify", "--db", db, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  for (const auto& c : j["checks"]) EXPECT_EQ(c["violations"], 0) << c.dump();
}

TEST(CliVerifyTest, VerifyNeverWritesTheFile) {
  TempDir dir;
  const std::string db = dir.file("run.db");
  consistent_sched_trace(db);
  const std::string before = read_file(db);
  chmod(db.c_str(), 0444);
  CommandResult r = run_command({causeway_binary(), "verify", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(db), before);
  EXPECT_FALSE(std::filesystem::exists(db + "-wal"));
}

// Each bad input: exit 2, nothing on stdout, one sentence on stderr naming the file.
void expect_bad_input(const std::string& path, const std::string& says) {
  CommandResult r = run_command({causeway_binary(), "verify", "--db", path});
  EXPECT_EQ(r.exit_code, 2) << path << ": " << r.out << r.err;
  EXPECT_EQ(r.out, "") << path;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("causeway verify: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
}

TEST(CliVerifyTest, BadInputIsOneSentenceAndExitTwo) {
  TempDir dir;
  expect_bad_input(dir.file("missing.db"), "does not exist");
  expect_bad_input(dir.path(), "is a directory");
  const std::string fifo = dir.file("pipe.db");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_bad_input(fifo, "is not a regular file");
  std::ofstream(dir.file("text.db")) << "hello, not a database\n";
  expect_bad_input(dir.file("text.db"), "is not a SQLite database");
  exec_sql(dir.file("other.db"), "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  expect_bad_input(dir.file("other.db"), "not a causeway trace");
  // A trace whose pages after the first are overwritten: the header and schema read fine,
  // the tables do not.
  const std::string corrupt = dir.file("corrupt.db");
  consistent_sched_trace(corrupt);
  std::string bytes = read_file(corrupt);
  ASSERT_GT(bytes.size(), 16384u * 2);
  std::fill(bytes.begin() + 16384, bytes.end(), '\xa5');
  std::ofstream(corrupt, std::ios::binary | std::ios::trunc) << bytes;
  expect_bad_input(corrupt, "could not be verified");
}

TEST(CliVerifyTest, HelpMatchesGolden) {
  CommandResult r = run_command({causeway_binary(), "verify", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(check_golden("cli/verify-help.txt", r.out), "");
}

}  // namespace
}  // namespace causeway::testing

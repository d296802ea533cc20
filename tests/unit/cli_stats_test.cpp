// `causeway stats` end to end: golden text and JSON on a fixture, the documented keys, bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/scenarios.h"
#include "support/golden.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

TEST(CliStatsTest, GoldenTextAndJson) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::data_loader(db, false);
  CommandResult text = run_command({causeway_binary(), "stats", "--db", db});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  // The trace records the machine it was taken on (virtualization, kernel release), which
  // differs between machines: the golden holds a placeholder for that one line.
  std::string out = text.out;
  if (auto at = out.find("\nhost "); at != std::string::npos) {
    auto end = out.find('\n', at + 1);
    out.replace(at + 1, end - at - 1, "host       <the machine the trace was taken on>");
  }
  EXPECT_EQ(check_golden("stats/data_loader.txt", out), "");
  CommandResult json = run_command({causeway_binary(), "stats", "--db", db, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  // The host name differs between machines; everything else is the fixture's.
  j["host"] = "";
  j["kernel_release"] = "";
  EXPECT_EQ(check_golden("stats/data_loader.json", j.dump(2) + "\n"), "");
}

TEST(CliStatsTest, ApisHaveTheDocumentedKeysAndExactValues) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, false);
  CommandResult r = run_command({causeway_binary(), "stats", "--db", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["apis"].is_array());
  bool memcpy_seen = false;
  for (const auto& a : j["apis"]) {
    for (const char* k :
         {"name", "count", "total_ns", "p50_ns", "p95_ns", "p99_ns", "max_ns", "bytes"}) {
      EXPECT_TRUE(a.contains(k)) << k;
    }
    if (a["name"] == "cudaMemcpy") {
      memcpy_seen = true;
      EXPECT_EQ(a["count"], 150);
      EXPECT_EQ(a["bytes"], 150 * 4096);
      EXPECT_EQ(a["p50_ns"], 1505 * kUs);
      EXPECT_EQ(a["max_ns"], 1505 * kUs);
    }
    if (a["name"] == "cudaLaunchKernel") {
      EXPECT_EQ(a["count"], 450);
    }
  }
  EXPECT_TRUE(memcpy_seen) << r.out;
  EXPECT_EQ(j["events"]["cuda_call"], 150 * 5);
  EXPECT_EQ(j["total_drops"], 0);
  EXPECT_TRUE(j["complete"].get<bool>());
  ASSERT_EQ(j["processes"].size(), 1u);
  EXPECT_EQ(j["processes"][0]["pid"], 400);
  EXPECT_GT(j["duration_ns"].get<int64_t>(), 0);
}

TEST(CliStatsTest, EmptyTrace) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  { TraceBuilder b(db); }
  CommandResult r = run_command({causeway_binary(), "stats", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no CUDA calls recorded"), std::string::npos) << r.out;
}

// Drops as `causeway trace` writes them (meta drops JSON and drops_total): the ring losses
// per source, and the gaps that keep their events shown apart, not counted as lost.
TEST(CliStatsTest, DropsAreReadAsTheRecorderWritesThem) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, false);
  exec_sql(db,
           "INSERT OR REPLACE INTO meta (key, value) VALUES ('drops', "
           "'{\"blockio\":0,\"cuda\":12,\"cuda_lost_entry\":0,\"proc\":0,\"sched\":30,"
           "\"stack_copy\":4,\"syscall\":0}'), ('drops_total', '42')");
  CommandResult r = run_command({causeway_binary(), "stats", "--db", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total_drops"], 42);
  EXPECT_EQ(j["drops"]["cuda"], 12);
  EXPECT_EQ(j["drops"]["sched"], 30);
  EXPECT_EQ(j["drops"]["stack_copy"], 4);
  EXPECT_FALSE(j["drops"].contains("total")) << j["drops"].dump();
  r = run_command({causeway_binary(), "stats", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("drops      42 events lost"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stack_copy                4  (not lost: stack copies not made)"),
            std::string::npos)
      << r.out;
}

TEST(CliStatsTest, BadInputIsOneSentence) {
  TempDir dir;
  CommandResult r = run_command({causeway_binary(), "stats", "--db", dir.file("nope.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("nope.db"), std::string::npos) << r.err;
  std::ofstream(dir.file("x.db")) << "SQLite format 3 but not really\n";
  r = run_command({causeway_binary(), "stats", "--db", dir.file("x.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace causeway::testing

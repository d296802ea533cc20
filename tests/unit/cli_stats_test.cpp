// `causeway stats` end to end: golden text and JSON on a fixture, the documented keys, bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures/scenarios.h"
#include "store/writer.h"
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

// Launches per kernel: runtime launches only (the driver launch the simulated runtime forwards
// each one to shares its kernel row and is not counted again; a driver-only CUfunction is not
// a kernel row of its own here), named kernels by name across processes, unnamed ones by
// address.
TEST(CliStatsTest, KernelsAreCountedByRuntimeLaunches) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  {
    store::WriterOptions o;
    o.origin_ns = kOriginNs;
    auto w = store::Writer::create(db, o);
    ASSERT_TRUE(w.ok()) << w.error();
    int64_t ts = kOriginNs;
    for (int32_t pid : {500, 501}) {
      ASSERT_TRUE(
          (*w)->note_process({pid, 1, "app", "app", true, std::nullopt, std::nullopt, std::nullopt})
              .ok());
    }
    auto launch = [&](int32_t pid, const char* fn, uint64_t addr, const char* name, int n) {
      for (int i = 0; i < n; ++i) {
        store::CudaCallRow c;
        c.ts_ns = ts += 1000;
        c.dur_ns = 100;
        c.pid = c.tid = pid;
        c.function = (*w)->intern(fn);
        c.kernel_addr = addr;
        if (name != nullptr) c.kernel = (*w)->intern(name);
        c.grid[0] = c.block[0] = 1;
        ASSERT_TRUE((*w)->add(c).ok());
      }
    };
    launch(500, "cudaLaunchKernel", 0x1000, "gemm(float*)", 3);
    launch(500, "cuLaunchKernel", 0x1000, nullptr, 3);
    launch(501, "cudaLaunchKernel_ptsz", 0x2000, "gemm(float*)", 2);
    launch(500, "cudaLaunchKernel", 0x3000, "softmax(float*)", 4);
    launch(500, "cudaLaunchKernel", 0x4000, nullptr, 1);
    launch(500, "cuLaunchKernel", 0x5000, nullptr, 7);
    ASSERT_TRUE((*w)->close().ok());
  }
  CommandResult r = run_command({causeway_binary(), "stats", "--db", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kernels"], nlohmann::json::parse(R"j([
      {"name": "gemm(float*)", "launches": 5}, {"name": "softmax(float*)", "launches": 4},
      {"name": null, "addr": "0x4000", "launches": 1}])j"))
      << r.out;
  EXPECT_EQ(j["kernels_total"], 3);
  r = run_command({causeway_binary(), "stats", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CUDA kernels (by runtime launches)\n"
                       "   launches  kernel\n"
                       "          5  gemm(float*)\n"
                       "          4  softmax(float*)\n"
                       "          1  0x4000 (not named; docs/stacks.md#kernel-names)\n"),
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

// Kernel names end to end, with real BPF: a simulated scenario is traced, and every kernel it
// launches must carry the name of the host function the scenario passed to cudaLaunchKernel
// (found by grepping the scenario's source, so the test follows the code), in the cuda_calls
// view and in the Perfetto export, for the runtime launch and for the driver launch the
// simulated runtime forwards it to.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "support/test_support.h"

namespace causeway::testing {
namespace {

// Kernels `source` launches with cudaLaunchKernel: the X of `&X` in each launch, as the
// demangled name of sim/scenarios/scenario_common.h's causeway::sim::scenario::X().
std::set<std::string> launched_kernels(const std::string& source) {
  std::set<std::string> out;
  std::ifstream in(source);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::regex launch(
      R"(SIM_CUDA\(tally, cudaLaunchKernel, reinterpret_cast<const void\*>\(&(\w+)\))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), launch);
       it != std::sregex_iterator(); ++it) {
    out.insert("causeway::sim::scenario::" + (*it)[1].str() + "()");
  }
  return out;
}

TEST(KernelNamesTrace, LaunchesNameTheKernelTheScenarioPassed) {
  CAUSEWAY_REQUIRE_BPF();
  const std::string source =
      std::string(CAUSEWAY_SOURCE_DIR) + "/sim/scenarios/scenario_host_sync.cpp";
  const std::set<std::string> want = launched_kernels(source);
  ASSERT_EQ(want.size(), 3u) << source;
  TempDir dir;
  const std::string db = dir.file("t.db");
  CommandResult r =
      run_command({causeway_binary(), "trace", "--db", db, "--",
                   build_path("sim/scenario_host_sync"), "--tokens=5", "--duration-ms=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h,
                               "SELECT function, coalesce(kernel, 'NULL'), count(*) FROM "
                               "cuda_calls WHERE kernel_addr IS NOT NULL GROUP BY 1, 2",
                               -1, &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(h);
  std::map<std::string, std::map<std::string, int64_t>> seen;  // function -> kernel -> calls
  while (sqlite3_step(st) == SQLITE_ROW) {
    seen[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))]
        [reinterpret_cast<const char*>(sqlite3_column_text(st, 1))] = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  // Five tokens, one launch of each kernel per token, through the runtime and then the driver.
  for (const char* fn : {"cudaLaunchKernel", "cuLaunchKernel"}) {
    std::map<std::string, int64_t> expected;
    for (const std::string& k : want) expected[k] = 5;
    EXPECT_EQ(seen[fn], expected) << fn;
  }

  r = run_command({causeway_binary(), "export", "--db", db, "--format", "perfetto", "-o", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& k : want) {
    EXPECT_NE(r.out.find("\"kernel\":\"" + k + "\""), std::string::npos) << k;
  }
}

}  // namespace
}  // namespace causeway::testing

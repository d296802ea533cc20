// Stacks end to end, with real BPF: each simulated scenario (built with frame pointers and
// -g, as sim/CMakeLists.txt says) is traced, and the stack of every recorded CUDA call must be
// line-exact: its innermost frame in the scenario's executable is in the scenario's
// source file, on a line where the scenario issues that very call (found by grepping the
// source, so the test follows the code when lines move). What DWARF says of the optimized
// binary is what is checked; nothing is assumed about inlining.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "store/reader.h"
#include "support/test_support.h"
#include "symbolize/stack_symbols.h"

namespace causeway::testing {
namespace {

// Lines of `file` (1-based) that contain `text`.
std::set<int64_t> lines_with(const std::string& file, const std::string& text) {
  std::set<int64_t> out;
  std::ifstream in(file);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) out.insert(n);
  }
  return out;
}

bool in_cuda_library(const symbolize::Frame& f) {
  return f.module.find("/libcudart.so") != std::string::npos ||
         f.module.find("/libcuda.so") != std::string::npos;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Checked {
  int64_t calls = 0;
  int64_t exact = 0;          // innermost scenario frame on a line issuing the call
  int64_t ended_in_libc = 0;  // driver set-up calls whose walk ended in glibc
};

// Every call line-exact. With frame pointers only (the default), except the runtime's
// one-time driver set-up (cuInit and cuDevicePrimaryCtxRetain, at most once each per
// process), whose walk ends in glibc; with --call-graph dwarf, no exception at all.
void expect_all_exact(const Checked& c, const std::string& call_graph) {
  EXPECT_EQ(c.exact + c.ended_in_libc, c.calls);
  EXPECT_LE(c.ended_in_libc, call_graph == "fp" ? 2 : 0);
}

// Traces `scenario` with `args` and checks every CUDA call's stack against its source.
Checked check_scenario(const std::string& scenario, const std::vector<std::string>& args,
                       const std::string& call_graph) {
  Checked out;
  TempDir dir;
  const std::string db = dir.file("t.db");
  std::vector<std::string> argv = {causeway_binary(),
                                   "trace",
                                   "--call-graph",
                                   call_graph,
                                   "--db",
                                   db,
                                   "--",
                                   build_path("sim/" + scenario)};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return out;
  EXPECT_EQ(verify_trace(db), "") << db;
  const std::string source =
      std::string(CAUSEWAY_SOURCE_DIR) + "/sim/scenarios/" + scenario + ".cpp";
  const std::set<int64_t> any_call = lines_with(source, "SIM_CUDA(");
  EXPECT_FALSE(any_call.empty()) << source;

  auto reader = store::Reader::open(db);
  EXPECT_TRUE(reader.ok()) << reader.error();
  if (!reader.ok()) return out;
  sqlite3* h = (*reader)->db();
  // Symbolized and stored at the end of the trace.
  EXPECT_TRUE(symbolize::stacks_symbolized(h));
  symbolize::StackSymbolizer symbolizer(h);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h,
                               "SELECT s.str, c.stack_id, count(*) FROM cuda_call c JOIN string s "
                               "ON s.id = c.function_id GROUP BY 1, 2",
                               -1, &st, nullptr),
            SQLITE_OK);
  std::map<std::string, std::set<int64_t>> call_lines;  // function -> lines issuing it
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string fn = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    const int64_t count = sqlite3_column_int64(st, 2);
    out.calls += count;
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
      ADD_FAILURE() << scenario << ": " << count << " " << fn << " calls without a stack";
      continue;
    }
    auto frames = symbolizer.native(sqlite3_column_int64(st, 1));
    EXPECT_TRUE(frames.ok()) << frames.error();
    if (!frames.ok()) continue;
    // Runtime functions are issued by the scenario itself; driver functions by the runtime
    // on behalf of a runtime call of the scenario.
    if (!call_lines.count(fn)) call_lines[fn] = lines_with(source, "SIM_CUDA(tally, " + fn + ",");
    const std::set<int64_t>& expected = fn.rfind("cuda", 0) == 0 ? call_lines[fn] : any_call;
    std::string shown;
    for (const auto& f : *frames) shown += "  " + symbolize::describe(f) + "\n";
    if (frames->empty()) {
      ADD_FAILURE() << scenario << ": stack of " << fn << " has no frames";
      continue;
    }
    // Frame 0 is the probed entry point itself, in a CUDA library.
    EXPECT_TRUE(in_cuda_library(frames->front())) << fn << "\n" << shown;
    // The innermost frame in the scenario's executable (between it and the CUDA entry point
    // there may be the runtime's own frames, and libc's, e.g. pthread_once for lazy set-up).
    size_t user = 0;
    while (user < frames->size() && !ends_with((*frames)[user].module, "/sim/" + scenario)) {
      ++user;
    }
    if (user == frames->size() && fn.rfind("cu", 0) == 0 && fn.rfind("cuda", 0) != 0 &&
        frames->back().module.find("/libc.so") != std::string::npos) {
      // The runtime's lazy driver set-up (cuInit, cuDevicePrimaryCtxRetain) runs inside
      // glibc's pthread_once, and Debian's glibc has no frame pointers: the walk ends there,
      // honestly, without invented frames (docs/stacks.md). Counted, not hidden.
      out.ended_in_libc += count;
      continue;
    }
    if (user == frames->size()) {
      ADD_FAILURE() << scenario << ": " << fn << " has no frame in the scenario's binary\n"
                    << shown;
      continue;
    }
    const symbolize::Frame& f = (*frames)[user];
    EXPECT_EQ(f.kind, symbolize::FrameKind::kNative) << fn << "\n" << shown;
    EXPECT_FALSE(f.function.empty()) << fn << "\n" << shown;
    EXPECT_TRUE(ends_with(f.file, "/sim/scenarios/" + scenario + ".cpp")) << fn << "\n" << shown;
    EXPECT_TRUE(expected.count(f.line) == 1)
        << scenario << ": " << fn << " issued from line " << f.line << ", which does not issue it\n"
        << shown;
    // The frame that owns the code at that address is a function of the scenario (main or a
    // helper; a lambda appears as an inlined operator()).
    size_t owner = user;
    while (owner + 1 < frames->size() && (*frames)[owner].inlined) ++owner;
    EXPECT_FALSE((*frames)[owner].function.empty()) << shown;
    EXPECT_TRUE(ends_with((*frames)[owner].module, "/sim/" + scenario)) << shown;
    if (f.kind == symbolize::FrameKind::kNative && expected.count(f.line) == 1) out.exact += count;
  }
  sqlite3_finalize(st);
  return out;
}

// Each scenario, traced with each --call-graph mode: every CUDA call's stack checked against
// the scenario's source.
struct ScenarioRun {
  std::string scenario;
  std::vector<std::string> args;
  int64_t min_calls;
  std::string call_graph;
};

// Shown by gtest in place of the struct's bytes.
void PrintTo(const ScenarioRun& r, std::ostream* os) {
  *os << r.scenario << " --call-graph " << r.call_graph;
}

class ScenarioStacks : public ::testing::TestWithParam<ScenarioRun> {};

TEST_P(ScenarioStacks, CallsAreLineExact) {
  CAUSEWAY_REQUIRE_BPF();
  const ScenarioRun& p = GetParam();
  Checked c = check_scenario(p.scenario, p.args, p.call_graph);
  EXPECT_GT(c.calls, p.min_calls);
  expect_all_exact(c, p.call_graph);
}

std::vector<ScenarioRun> scenario_runs() {
  std::vector<ScenarioRun> runs;
  for (const std::string mode : {"fp", "dwarf"}) {
    runs.push_back({"scenario_host_sync", {"--tokens=30", "--duration-ms=0"}, 30 * 5, mode});
    runs.push_back({"scenario_alloc_churn", {"--steps=10", "--duration-ms=0"}, 10, mode});
    runs.push_back({"scenario_dataloader", {"--duration-ms=400"}, 10, mode});
    runs.push_back({"scenario_noisy_neighbor", {"--duration-ms=400"}, 10, mode});
  }
  return runs;
}

INSTANTIATE_TEST_SUITE_P(StacksTrace, ScenarioStacks, ::testing::ValuesIn(scenario_runs()),
                         [](const ::testing::TestParamInfo<ScenarioRun>& info) {
                           std::string name = info.param.scenario.substr(sizeof("scenario_") - 1) +
                                              "_" + info.param.call_graph;
                           return name;
                         });

TEST(StacksTrace, StacksCommandShowsTheCallSite) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  CommandResult r =
      run_command({causeway_binary(), "trace", "--db", db, "--",
                   build_path("sim/scenario_host_sync"), "--tokens=10", "--duration-ms=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(verify_trace(db), "");
  const std::string source =
      std::string(CAUSEWAY_SOURCE_DIR) + "/sim/scenarios/scenario_host_sync.cpp";
  const auto lines = lines_with(source, "SIM_CUDA(tally, cudaStreamSynchronize,");
  ASSERT_FALSE(lines.empty());
  r = run_command({causeway_binary(), "stacks", "--db", db, "--function", "cudaStreamSynchronize"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Without --healthy the per-token synchronize is the first one in the file.
  EXPECT_NE(r.out.find("main at scenarios/scenario_host_sync.cpp:" +
                       std::to_string(*lines.begin()) + "\n"),
            std::string::npos)
      << r.out;
  r = run_command({causeway_binary(), "stacks", "--db", db, "--folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(";main;cudaStreamSynchronize "), std::string::npos) << r.out;
}

TEST(StacksTrace, PythonFramesAreMergedAtTheExactLine) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  const std::string script = std::string(CAUSEWAY_SOURCE_DIR) + "/sim/python/train_loop.py";
  CommandResult r =
      run_command({causeway_binary(), "trace", "--db", db, "--", "/usr/bin/python3", script,
                   "--cudart", build_path("sim/libcudart.so.13"), "--steps", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(verify_trace(db), "");
  const auto sync_lines = lines_with(script, "# @sync");
  ASSERT_EQ(sync_lines.size(), 1u);
  r = run_command(
      {causeway_binary(), "stacks", "--db", db, "--function", "cudaStreamSynchronize", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["stacks"].size(), 1u) << r.out;
  const auto& frames = j["stacks"][0]["frames"];
  // Native frames first (the CUDA entry point at least), then the innermost Python frame:
  // the method that called cudaStreamSynchronize, on the line of the call.
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames[0]["function"], "cudaStreamSynchronize");
  size_t py = 0;
  while (py < frames.size() && frames[py]["kind"] != "python" &&
         frames[py]["kind"] != "python_appended") {
    ++py;
  }
  ASSERT_LT(py, frames.size()) << r.out;
  EXPECT_EQ(frames[py]["function"], "Trainer.sync") << r.out;
  EXPECT_EQ(frames[py]["line"], *sync_lines.begin()) << r.out;
  EXPECT_TRUE(ends_with(frames[py]["file"].get<std::string>(), "/sim/python/train_loop.py"));
  EXPECT_EQ(frames.back()["function"], "<module>") << r.out;
}

}  // namespace
}  // namespace causeway::testing

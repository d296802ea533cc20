// --call-graph dwarf end to end, with real BPF: sim/nofp_workload (built -O2
// -fomit-frame-pointer -g) calls the simulated runtime through inner_sync <- middle_step <-
// outer_step <- main. With frame pointers only, those stacks are truncated; with DWARF
// unwinding of the copied stack every function of the chain is named at the exact line of its
// call (lines found by the "call-site:" markers in the source), and so is the runtime's lazy
// driver set-up (cuInit inside glibc's pthread_once, which has no frame pointers) up to main.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "store/reader.h"
#include "support/test_support.h"
#include "symbolize/stack_symbols.h"

namespace causeway::testing {
namespace {

const std::string kSource = std::string(CAUSEWAY_SOURCE_DIR) + "/sim/scenarios/nofp_workload.cpp";

// The line carrying "call-site: <what>" in the workload's source.
int64_t call_site(const std::string& what) {
  std::ifstream in(kSource);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find("// call-site: " + what) != std::string::npos) return n;
  }
  ADD_FAILURE() << "no call-site marker for " << what << " in " << kSource;
  return -1;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using Stack = std::vector<symbolize::Frame>;

std::string show(const Stack& s) {
  std::string out;
  for (const auto& f : s) out += "  " + symbolize::describe(f) + "\n";
  return out;
}

struct Traced {
  std::map<std::string, std::vector<Stack>> stacks;  // CUDA function -> stacks of its calls
  std::string meta_call_graph;
  std::string stacks_text;     // `causeway stacks --function cudaDeviceSynchronize`
  int64_t with_holes = -1;     // meta dwarf_unwinding: copies with unreadable pages
  int64_t copies_failed = -1;  // ... stack copies BPF could not make
};

Traced trace(const std::string& call_graph, const std::vector<std::string>& workload_args = {}) {
  Traced out;
  TempDir dir;
  const std::string db = dir.file("t.db");
  std::vector<std::string> argv = {causeway_binary(),
                                   "trace",
                                   "--call-graph",
                                   call_graph,
                                   "--db",
                                   db,
                                   "--",
                                   build_path("sim/nofp_workload"),
                                   "--iterations=8"};
  argv.insert(argv.end(), workload_args.begin(), workload_args.end());
  CommandResult r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return out;
  EXPECT_EQ(verify_trace(db), "") << db;
  auto reader = store::Reader::open(db);
  EXPECT_TRUE(reader.ok()) << reader.error();
  if (!reader.ok()) return out;
  sqlite3* h = (*reader)->db();
  symbolize::StackSymbolizer symbolizer(h);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h,
                               "SELECT s.str, c.stack_id FROM cuda_call c JOIN string s "
                               "ON s.id = c.function_id WHERE c.stack_id IS NOT NULL",
                               -1, &st, nullptr),
            SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string fn = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    auto frames = symbolizer.native(sqlite3_column_int64(st, 1));
    EXPECT_TRUE(frames.ok()) << frames.error();
    if (frames.ok()) out.stacks[fn].push_back(*frames);
  }
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = 'call_graph'", -1, &st, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    out.meta_call_graph = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  out.with_holes = query_int(db,
                             "SELECT json_extract(value, '$.with_holes') FROM meta "
                             "WHERE key = 'dwarf_unwinding'");
  out.copies_failed = query_int(db,
                                "SELECT json_extract(value, '$.copies_failed') FROM meta "
                                "WHERE key = 'dwarf_unwinding'");
  r = run_command({causeway_binary(), "stacks", "--db", db, "--function", "cudaDeviceSynchronize"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  out.stacks_text = r.out;
  return out;
}

// Index of the first frame in the workload's own binary, or stack.size().
size_t first_workload_frame(const Stack& s) {
  size_t i = 0;
  while (i < s.size() && !ends_with(s[i].module, "/sim/nofp_workload")) ++i;
  return i;
}

bool frame_is(const symbolize::Frame& f, const std::string& function, int64_t line) {
  return f.kind == symbolize::FrameKind::kNative &&
         f.function.find(function) != std::string::npos && f.line == line &&
         ends_with(f.file, "/sim/scenarios/nofp_workload.cpp");
}

// The whole chain of the workload, innermost first, at the call lines: `fn` issued at its
// call site inside inner_sync, then middle_step, outer_step and main at theirs.
bool has_full_chain(const Stack& s, const std::string& fn) {
  const size_t u = first_workload_frame(s);
  return u + 3 < s.size() && frame_is(s[u], "inner_sync", call_site(fn)) &&
         frame_is(s[u + 1], "middle_step", call_site("inner_sync")) &&
         frame_is(s[u + 2], "outer_step", call_site("middle_step")) &&
         frame_is(s[u + 3], "main", call_site("outer_step"));
}

bool reaches_main_at(const Stack& s, int64_t line) {
  for (const auto& f : s) {
    if (frame_is(f, "main", line)) return true;
  }
  return false;
}

TEST(DwarfStacksTrace, DwarfNamesEveryFunctionWithoutFramePointers) {
  CAUSEWAY_REQUIRE_BPF();
  Traced t = trace("dwarf");
  EXPECT_EQ(t.meta_call_graph, "dwarf,8192");
  EXPECT_EQ(t.copies_failed, 0);
  for (const std::string fn : {"cudaMemset", "cudaDeviceSynchronize"}) {
    ASSERT_EQ(t.stacks[fn].size(), 8u) << fn;
    for (const auto& s : t.stacks[fn]) EXPECT_TRUE(has_full_chain(s, fn)) << fn << "\n" << show(s);
  }
  ASSERT_EQ(t.stacks["cudaMalloc"].size(), 1u);
  const Stack& malloc_stack = t.stacks["cudaMalloc"][0];
  const size_t u = first_workload_frame(malloc_stack);
  ASSERT_LT(u, malloc_stack.size()) << show(malloc_stack);
  EXPECT_TRUE(frame_is(malloc_stack[u], "main", call_site("cudaMalloc"))) << show(malloc_stack);
  // The runtime's lazy driver set-up runs inside glibc's pthread_once (no frame pointers):
  // unwound through it, up to the workload's first CUDA call in main.
  for (const std::string fn : {"cuInit", "cuDevicePrimaryCtxRetain"}) {
    ASSERT_EQ(t.stacks[fn].size(), 1u) << fn;
    EXPECT_TRUE(reaches_main_at(t.stacks[fn][0], call_site("cudaMalloc"))) << fn << "\n"
                                                                           << show(t.stacks[fn][0]);
  }
  // The stacks command shows it too.
  EXPECT_NE(t.stacks_text.find("main at scenarios/nofp_workload.cpp:" +
                               std::to_string(call_site("outer_step")) + "\n"),
            std::string::npos)
      << t.stacks_text;
  EXPECT_NE(t.stacks_text.find("middle_step"), std::string::npos) << t.stacks_text;
  // Complete stacks carry no "stopped early" note.
  EXPECT_EQ(t.stacks_text.find("the walk stopped here"), std::string::npos) << t.stacks_text;
}

// Stack pages a frame reserved but never wrote are not present, and BPF cannot read them
// (it cannot fault pages in). The copy skips just those pages, and the frames above them
// still unwind: this is what made a process's stacks lose main whenever ASLR put such a page
// of the loader's start-up frames inside the copy.
TEST(DwarfStacksTrace, UnwrittenStackPagesDoNotCostTheFramesAboveThem) {
  CAUSEWAY_REQUIRE_BPF();
  Traced t = trace("dwarf,16384", {"--gap-thread"});
  EXPECT_GE(t.with_holes, 8) << "the workload's unwritten pages were copied: the test is void";
  EXPECT_EQ(t.copies_failed, 0);
  for (const std::string fn : {"cudaMemset", "cudaDeviceSynchronize"}) {
    ASSERT_EQ(t.stacks[fn].size(), 8u) << fn;
    for (const auto& s : t.stacks[fn]) {
      const size_t u = first_workload_frame(s);
      EXPECT_TRUE(u + 4 < s.size() && frame_is(s[u], "inner_sync", call_site(fn)) &&
                  frame_is(s[u + 1], "middle_step", call_site("inner_sync")) &&
                  frame_is(s[u + 2], "outer_step", call_site("middle_step")) &&
                  frame_is(s[u + 3], "gap_frame", call_site("gap outer_step")) &&
                  frame_is(s[u + 4], "gap_thread", call_site("gap_frame")))
          << fn << "\n"
          << show(s);
    }
  }
}

TEST(DwarfStacksTrace, FramePointersAloneAreTruncatedThere) {
  CAUSEWAY_REQUIRE_BPF();
  Traced t = trace("fp");
  EXPECT_EQ(t.meta_call_graph, "fp");
  ASSERT_EQ(t.stacks["cudaDeviceSynchronize"].size(), 8u);
  // The walk gets the innermost caller (the return address at the probed entry) but cannot
  // follow frames without a frame pointer: never the whole chain.
  for (const auto& s : t.stacks["cudaDeviceSynchronize"]) {
    EXPECT_FALSE(has_full_chain(s, "cudaDeviceSynchronize")) << show(s);
  }
  ASSERT_EQ(t.stacks["cuInit"].size(), 1u);
  EXPECT_FALSE(reaches_main_at(t.stacks["cuInit"][0], call_site("cudaMalloc")))
      << show(t.stacks["cuInit"][0]);
}

TEST(DwarfStacksTrace, BadCallGraphValueIsOneSentence) {
  CommandResult r = run_command({causeway_binary(), "trace", "--call-graph", "lbr", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--call-graph takes 'fp' or 'dwarf'"), std::string::npos) << r.err;
  r = run_command({causeway_binary(), "trace", "--call-graph", "dwarf,100", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not 'dwarf,100'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace causeway::testing

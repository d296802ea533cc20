// symbolize::stack_ends_early: when text outputs add the "walk stopped here" note; and
// stack_ends_early_note: what that note advises, by how the trace took its stacks.
#include "symbolize/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace causeway::symbolize {
namespace {

Frame native(const std::string& function) {
  Frame f;
  f.kind = FrameKind::kNative;
  f.function = function;
  f.file = "x.cpp";
  f.line = 1;
  return f;
}

TEST(SymbolizeFrame, AWalkThatReachesTheThreadStartOrMainIsComplete) {
  for (const char* base : {"main", "_start", "__libc_start_call_main", "start_thread", "clone3"}) {
    EXPECT_FALSE(stack_ends_early({native("cudaMalloc"), native("work"), native(base)})) << base;
  }
}

TEST(SymbolizeFrame, AWalkStoppedInANamedFunctionEndsEarly) {
  // As when glibc (no frame pointers) is between the CUDA call and main.
  EXPECT_TRUE(stack_ends_early({native("cuInit"), native("__pthread_once_slow")}));
  Frame symbol_only = native("__futex_abstimed_wait_common");
  symbol_only.kind = FrameKind::kSymbolOnly;
  EXPECT_TRUE(stack_ends_early({native("cudaStreamSynchronize"), symbol_only}));
}

TEST(SymbolizeFrame, NothingIsClaimedAboutWhatCannotBeNamed) {
  EXPECT_FALSE(stack_ends_early({}));
  Frame unmapped;
  unmapped.kind = FrameKind::kNoMapping;
  unmapped.pc = 0x10;
  EXPECT_FALSE(stack_ends_early({native("cudaMalloc"), unmapped}));
  Frame python = native("train_step");
  python.kind = FrameKind::kPython;
  EXPECT_FALSE(stack_ends_early({python}));
  Frame unresolved;
  unresolved.kind = FrameKind::kUnresolved;
  EXPECT_FALSE(stack_ends_early({native("cudaMalloc"), unresolved}));
}

// A frame-pointer trace is told about --call-graph dwarf; a trace that already used dwarf is
// not sent round in circles: a larger copy, or code without CFI.
TEST(StackEndsEarlyNote, AdviceDependsOnHowTheStacksWereTaken) {
  for (const char* fp : {"fp", ""}) {
    const std::string note = stack_ends_early_note(fp);
    EXPECT_EQ(note.rfind("… the walk stopped here, short of the thread's start", 0), 0u) << note;
    EXPECT_NE(note.find("`causeway trace --call-graph dwarf` unwinds through it"),
              std::string::npos)
        << note;
  }
  for (const char* dwarf : {"dwarf,8192", "dwarf"}) {
    const std::string note = stack_ends_early_note(dwarf);
    EXPECT_NE(note.find("traced with --call-graph dwarf,8192"), std::string::npos) << note;
    EXPECT_NE(note.find("`--call-graph dwarf,16384`"), std::string::npos) << note;
    EXPECT_NE(note.find("no CFI"), std::string::npos) << note;
    EXPECT_EQ(note.find("unwinds through it"), std::string::npos) << note;
  }
  const std::string largest = stack_ends_early_note("dwarf,16384");
  EXPECT_NE(largest.find("the largest stack copy"), std::string::npos) << largest;
  EXPECT_EQ(largest.find("trace with"), std::string::npos) << largest;
}

}  // namespace
}  // namespace causeway::symbolize

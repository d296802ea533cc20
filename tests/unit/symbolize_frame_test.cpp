// symbolize::stack_ends_early: when text outputs add the "walk stopped here" note.
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

}  // namespace
}  // namespace causeway::symbolize

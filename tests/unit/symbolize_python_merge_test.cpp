// merge_python: Python frames replace the eval-loop frames they ran in, grouped by the entry
// flag; left-over frames go after the last trustworthy native frame, marked as such.
#include "symbolize/python_merge.h"

#include <gtest/gtest.h>

namespace causeway::symbolize {
namespace {

Frame native(const std::string& fn, uint64_t pc, bool inlined = false) {
  Frame f;
  f.kind = FrameKind::kNative;
  f.function = fn;
  f.file = "x.c";
  f.line = 1;
  f.module = "/usr/bin/python3";
  f.pc = pc;
  f.inlined = inlined;
  return f;
}

Frame unmapped(uint64_t pc) {
  Frame f;
  f.kind = FrameKind::kNoMapping;
  f.pc = pc;
  return f;
}

PythonFrame py(const std::string& fn, int64_t line, bool entry) {
  return {fn, "/app/train.py", line, entry};
}

std::vector<std::string> names(const std::vector<Frame>& frames) {
  std::vector<std::string> out;
  for (const Frame& f : frames) {
    out.push_back(f.function + (f.kind == FrameKind::kPython           ? "[py]"
                                : f.kind == FrameKind::kPythonAppended ? "[py+]"
                                                                       : ""));
  }
  return out;
}

TEST(SymbolizePythonMergeTest, NoPythonFramesLeavesNativeUnchanged) {
  std::vector<Frame> n = {native("cudaMalloc", 1), native("main", 2)};
  EXPECT_EQ(names(merge_python(n, {})), names(n));
}

TEST(SymbolizePythonMergeTest, EachEntryRunReplacesOneEvalLoopFrameInOrder) {
  // Innermost first: the CUDA call, ctypes, the inner eval loop (running step -> forward),
  // a C function (PyObject_Call), the outer eval loop (running main), then Py_RunMain.
  std::vector<Frame> n = {native("cudaLaunchKernel", 0x10),         native("ffi_call", 0x20),
                          native("_PyEval_EvalFrameDefault", 0x30), native("PyObject_Call", 0x40),
                          native("_PyEval_EvalFrameDefault", 0x50), native("Py_RunMain", 0x60)};
  std::vector<PythonFrame> p = {py("forward", 12, false), py("step", 30, true),
                                py("main", 44, true)};
  auto merged = merge_python(n, p);
  EXPECT_EQ(names(merged),
            (std::vector<std::string>{"cudaLaunchKernel", "ffi_call", "forward[py]", "step[py]",
                                      "PyObject_Call", "main[py]", "Py_RunMain"}));
  EXPECT_EQ(merged[2].line, 12);
  EXPECT_EQ(merged[2].file, "/app/train.py");
  EXPECT_EQ(merged[5].line, 44);
}

TEST(SymbolizePythonMergeTest, InlinedEvalEntryCountsOnceWithItsOwner) {
  // _PyEval_EvalFrame inlined into _PyEval_EvalFrameDefault's caller at one address: one
  // eval-loop invocation, not two.
  std::vector<Frame> n = {native("cudaMalloc", 0x10), native("_PyEval_EvalFrame", 0x20, true),
                          native("_PyEval_Vector", 0x20), native("main", 0x30)};
  auto merged = merge_python(n, {py("f", 3, true)});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"cudaMalloc", "f[py]", "main"}));
}

TEST(SymbolizePythonMergeTest, NoEvalFrameAppendsAfterTrustworthyPrefix) {
  // Debian's python3 has no frame pointers: the walk leaves libpython and produces an
  // address outside every mapping; everything from there on is dropped.
  std::vector<Frame> n = {native("cudaMalloc", 0x10), native("ffi_call_unix64", 0x20),
                          unmapped(0xdead), native("looks_plausible", 0x40)};
  auto merged = merge_python(n, {py("alloc", 7, false), py("<module>", 20, true)});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"cudaMalloc", "ffi_call_unix64", "alloc[py+]",
                                                     "<module>[py+]"}));
  EXPECT_EQ(merged[2].kind, FrameKind::kPythonAppended);
  EXPECT_NE(describe(merged[2]).find("native frames below unknown"), std::string::npos);
}

TEST(SymbolizePythonMergeTest, MoreRunsThanEvalFramesAppendsTheOuterRuns) {
  std::vector<Frame> n = {native("cudaMalloc", 0x10), native("_PyEval_EvalFrameDefault", 0x20)};
  auto merged = merge_python(n, {py("inner", 1, true), py("outer", 2, true)});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"cudaMalloc", "inner[py]", "outer[py+]"}));
}

TEST(SymbolizePythonMergeTest, MoreEvalFramesThanRunsKeepsTheOuterEvalFrames) {
  std::vector<Frame> n = {native("_PyEval_EvalFrameDefault", 0x20),
                          native("_PyEval_EvalFrameDefault", 0x30)};
  auto merged = merge_python(n, {py("only", 5, true)});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"only[py]", "_PyEval_EvalFrameDefault"}));
}

TEST(SymbolizePythonMergeTest, TruncatedPythonStackWithoutFinalEntryStillMerges) {
  std::vector<Frame> n = {native("cudaMalloc", 0x10), native("_PyEval_EvalFrameDefault", 0x20)};
  auto merged = merge_python(n, {py("a", 1, false), py("b", 2, false)});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"cudaMalloc", "a[py]", "b[py]"}));
}

TEST(SymbolizePythonMergeTest, FoldedNamesOfPythonFramesCarryFileAndLine) {
  auto merged = merge_python({native("_PyEval_EvalFrameDefault", 1)}, {py("step", 30, true)});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(folded_name(merged[0]), "step (train.py:30)");
}

}  // namespace
}  // namespace causeway::symbolize

// stack_line: the export's one-line stack keeps the innermost frame, prefers the program's
// (and Python) frames over runtime/interpreter/FFI plumbing, and marks every gap.
#include "export/stack_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace causeway::timeline {
namespace {

using symbolize::Frame;
using symbolize::FrameKind;

Frame native(const std::string& function, const std::string& module, int64_t line = 0) {
  Frame f;
  f.kind = line > 0 ? FrameKind::kNative : FrameKind::kSymbolOnly;
  f.function = function;
  f.module = module;
  if (line > 0) {
    f.file = "/src/" + function + ".c";
    f.line = line;
  }
  return f;
}

Frame python(const std::string& function, int64_t line) {
  Frame f;
  f.kind = FrameKind::kPython;
  f.function = function;
  f.file = "/home/u/train_loop.py";
  f.line = line;
  return f;
}

// Number of frames a line accounts for: those shown plus every "... N more".
size_t accounted(const std::string& line) {
  size_t frames = 0, pos = 0;
  while (true) {
    const size_t next = line.find(" <- ", pos);
    const std::string part = line.substr(pos, next == std::string::npos ? next : next - pos);
    if (part.rfind("... ", 0) == 0) {
      frames += std::stoul(part.substr(4));
    } else {
      ++frames;
    }
    if (next == std::string::npos) return frames;
    pos = next + 4;
  }
}

TEST(ExportStackLineTest, ShortStackIsShownWhole) {
  const std::vector<Frame> frames = {native("cudaMemcpy", "/opt/libcudart.so.13", 210),
                                     native("main", "/home/u/app", 84)};
  EXPECT_EQ(stack_line(frames), "cudaMemcpy (cudaMemcpy.c:210) <- main (main.c:84)");
  EXPECT_EQ(stack_line({}), "");
}

TEST(ExportStackLineTest, ClassifiesPlumbingByModuleName) {
  for (const char* m : {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
                        "/lib/ld-2.31.so", "/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2",
                        "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/"
                        "_ctypes.cpython-311-x86_64-linux-gnu.so",
                        "/root/.pyenv/versions/3.11.7/bin/python3.11", "/usr/bin/python3",
                        "/venv/bin/python", "/usr/lib/libpython3.11.so.1.0", "/lib/libpthread.so.0",
                        "/usr/lib/libstdc++.so.6.0.30", "/lib/libgcc_s.so.1", "/lib/libm.so.6"}) {
    EXPECT_TRUE(is_plumbing_frame(native("f", m))) << m;
  }
  for (const char* m : {"/home/u/build/sim/libcudart.so.13", "/usr/lib/libcuda.so.1",
                        "/home/u/libmylib.so", "/home/u/app", "/opt/torch/lib/libtorch_cuda.so",
                        "/home/u/python_helper", "/usr/lib/libcudnn.so.9"}) {
    EXPECT_FALSE(is_plumbing_frame(native("f", m))) << m;
  }
  EXPECT_FALSE(is_plumbing_frame(python("step", 3)));
  Frame unmapped;
  unmapped.kind = FrameKind::kNoMapping;
  unmapped.pc = 0x55aa;
  EXPECT_TRUE(is_plumbing_frame(unmapped));
}

// The review's case: --call-graph dwarf through ctypes. With a plain "first 12 frames" cut the
// Python frames were hidden behind libffi / _ctypes / interpreter frames.
TEST(ExportStackLineTest, PythonFramesSurviveFfiAndInterpreterFrames) {
  const std::string ffi = "/usr/lib/x86_64-linux-gnu/libffi.so.8";
  const std::string ctypes = "/py/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so";
  const std::string interp = "/py/bin/python3.11";
  std::vector<Frame> frames = {native("cudaStreamSynchronize", "/b/sim/libcudart.so.13", 180),
                               native("ffi_call_unix64", ffi),
                               native("ffi_call_int", ffi),
                               native("_call_function_pointer", ctypes),
                               native("_ctypes_callproc", ctypes),
                               native("PyCFuncPtr_call", ctypes),
                               native("_PyObject_MakeTpCall", interp),
                               python("sync", 40),
                               native("_PyEval_Vector", interp),
                               native("_PyFunction_Vectorcall", interp),
                               python("train_step", 88),
                               native("_PyObject_Call", interp),
                               native("PyObject_Call", interp),
                               native("method_vectorcall", interp),
                               python("main", 115),
                               native("pymain_run_python", interp),
                               python("<module>", 122),
                               native("Py_RunMain", interp),
                               native("__libc_start_call_main", "/lib/libc.so.6"),
                               native("__libc_start_main", "/lib/libc.so.6"),
                               native("_start", interp)};
  ASSERT_EQ(frames.size(), 21u);
  const std::string line = stack_line(frames);
  for (const char* want : {"sync (train_loop.py:40)", "train_step (train_loop.py:88)",
                           "main (train_loop.py:115)", "<module> (train_loop.py:122)"}) {
    EXPECT_NE(line.find(want), std::string::npos) << want << "\n" << line;
  }
  // Innermost frame first; plumbing fills the rest innermost first; the 5 outermost plumbing
  // frames in between Python frames are marked where they were.
  EXPECT_EQ(line.rfind("cudaStreamSynchronize (cudaStreamSynchronize.c:180) <- ffi_call_unix64", 0),
            0u)
      << line;
  EXPECT_EQ(accounted(line), frames.size()) << line;
  EXPECT_NE(line.find("... "), std::string::npos) << line;
  // 16 frames shown.
  size_t shown = 0;
  for (size_t pos = 0; (pos = line.find(" <- ", pos)) != std::string::npos; pos += 4) {
    if (line.compare(pos + 4, 4, "... ") != 0) ++shown;
  }
  EXPECT_EQ(shown + 1, kStackLineFrames) << line;

  // With a tight budget the Python frames still come first after the innermost one.
  const std::string tight = stack_line(frames, 5);
  EXPECT_EQ(tight,
            "cudaStreamSynchronize (cudaStreamSynchronize.c:180) <- ... 6 more <- sync "
            "(train_loop.py:40) <- ... 2 more <- train_step (train_loop.py:88) <- ... 3 more <- "
            "main (train_loop.py:115) <- ... 1 more <- <module> (train_loop.py:122) <- ... 4 "
            "more");
  EXPECT_EQ(accounted(tight), frames.size());
}

TEST(ExportStackLineTest, DeepProgramStackKeepsItsInnermostFramesAndCountsTheRest) {
  std::vector<Frame> frames;
  for (int i = 0; i < 30; ++i) frames.push_back(native("f" + std::to_string(i), "/app", i + 1));
  const std::string line = stack_line(frames);
  EXPECT_EQ(line.rfind("f0 (f0.c:1) <- f1 (f1.c:2)", 0), 0u) << line;
  EXPECT_NE(line.find("f15 (f15.c:16) <- ... 14 more"), std::string::npos) << line;
  EXPECT_EQ(line.find("f16"), std::string::npos) << line;
  const std::string end = " <- ... 14 more";
  EXPECT_EQ(line.compare(line.size() - end.size(), end.size(), end), 0) << line;
}

TEST(ExportStackLineTest, InnermostFrameIsKeptEvenWhenItIsPlumbing) {
  // A blocked thread: it stopped in libc; the caller in the program is what matters next.
  std::vector<Frame> frames = {native("__futex_abstimed_wait_common", "/lib/libc.so.6"),
                               native("pthread_cond_wait", "/lib/libc.so.6"),
                               native("wait_for_batch", "/app", 12), native("main", "/app", 30)};
  EXPECT_EQ(stack_line(frames, 2),
            "__futex_abstimed_wait_common <- ... 1 more <- wait_for_batch (wait_for_batch.c:12) "
            "<- ... 1 more");
  // A budget of 0 still shows the innermost frame and accounts for the others.
  EXPECT_EQ(stack_line(frames, 0), "__futex_abstimed_wait_common <- ... 3 more");
}

}  // namespace
}  // namespace causeway::timeline

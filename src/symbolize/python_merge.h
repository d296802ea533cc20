// Merging a CPython stack into the native stack captured at the same moment.
//
// The native walk sees the interpreter's evaluation loop (_PyEval_EvalFrameDefault) where
// Python code ran; the Python stack says which Python functions those were. Since CPython
// 3.11 one eval-loop invocation runs several Python frames (Python-to-Python calls do not
// recurse in C); the frame that was entered from C carries the `entry` flag. So, innermost
// first, a run of Python frames ending at a frame with entry = true belongs to one eval-loop
// invocation, and the k-th run replaces the k-th eval-loop frame of the native stack.
//
// When the native stack has fewer eval-loop frames than there are runs — typically none at
// all, because the interpreter was built without frame pointers (Debian's python3) and the
// frame-pointer walk stopped early — the remaining runs are placed after (as callers of) the
// last trustworthy native frame, with kind kPythonAppended. Native frames after the first
// frame outside every mapping are not trustworthy (a frame-pointer walk that lost its way
// yields such addresses) and are dropped in that case.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "symbolize/frame.h"

namespace causeway::symbolize {

struct PythonFrame {
  std::string function;  // code object's name (qualified name where recorded)
  std::string file;      // code object's file name
  int64_t line = 0;      // line being executed; 0 = unknown
  bool entry = false;    // this frame was entered from C (the outermost of its eval loop)
};

// True for the native function names of CPython's evaluation loop.
bool is_eval_loop_function(std::string_view function);

// `native`: symbolized native frames, innermost first (inlined frames expanded, sharing the
// pc of their owner). `python`: the Python frames, innermost first. Returns one stack,
// innermost first. With no Python frames, returns `native` unchanged.
std::vector<Frame> merge_python(const std::vector<Frame>& native,
                                const std::vector<PythonFrame>& python);

}  // namespace causeway::symbolize

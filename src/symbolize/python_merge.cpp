#include "symbolize/python_merge.h"

#include <array>

namespace causeway::symbolize {
namespace {

Frame python_frame(const PythonFrame& p, FrameKind kind) {
  Frame f;
  f.kind = kind;
  f.function = p.function;
  f.file = p.file;
  f.line = p.line;
  return f;
}

// Runs of Python frames, innermost first, each ending at an entry frame (the last run may
// end without one when the Python stack was truncated).
std::vector<std::vector<const PythonFrame*>> eval_runs(const std::vector<PythonFrame>& python) {
  std::vector<std::vector<const PythonFrame*>> runs(1);
  for (const PythonFrame& p : python) {
    runs.back().push_back(&p);
    if (p.entry) runs.emplace_back();
  }
  if (runs.back().empty()) runs.pop_back();
  return runs;
}

}  // namespace

bool is_eval_loop_function(std::string_view function) {
  // _PyEval_EvalFrameDefault: the eval loop of every CPython 3.x. _PyEval_EvalFrame is the
  // inline entry wrapper (3.11+), seen as an inlined frame of the same address.
  static constexpr std::array<std::string_view, 2> kNames = {"_PyEval_EvalFrameDefault",
                                                             "_PyEval_EvalFrame"};
  for (std::string_view n : kNames) {
    if (function == n) return true;
  }
  return false;
}

std::vector<Frame> merge_python(const std::vector<Frame>& native,
                                const std::vector<PythonFrame>& python) {
  if (python.empty()) return native;
  const auto runs = eval_runs(python);
  size_t next_run = 0;
  std::vector<Frame> out;
  out.reserve(native.size() + python.size());
  // Native frames come in groups sharing one captured address (inline expansion); a group
  // containing an eval-loop function is one eval-loop invocation.
  for (size_t i = 0; i < native.size();) {
    size_t end = i + 1;
    while (end < native.size() && native[end - 1].inlined && native[end].pc == native[i].pc) {
      ++end;
    }
    bool eval = false;
    for (size_t k = i; k < end; ++k) eval = eval || is_eval_loop_function(native[k].function);
    if (eval && next_run < runs.size()) {
      for (const PythonFrame* p : runs[next_run])
        out.push_back(python_frame(*p, FrameKind::kPython));
      ++next_run;
    } else {
      for (size_t k = i; k < end; ++k) out.push_back(native[k]);
    }
    i = end;
  }
  if (next_run == runs.size()) return out;
  // Python frames left over: the native walk ended before reaching their eval loops. Keep the
  // trustworthy native prefix (up to the first address outside every mapping) and put them
  // after it.
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k].kind == FrameKind::kNoMapping) {
      out.resize(k);
      break;
    }
  }
  for (; next_run < runs.size(); ++next_run) {
    for (const PythonFrame* p : runs[next_run]) {
      out.push_back(python_frame(*p, FrameKind::kPythonAppended));
    }
  }
  return out;
}

}  // namespace causeway::symbolize

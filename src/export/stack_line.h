// The one-line call stack the timeline export puts on a slice (arg `stack`).
//
// A viewer's argument panel shows one line per argument, so a deep stack has to be cut.
// Cutting at the first N frames (innermost first) hides exactly what people look for when
// the stack went through an interpreter or an FFI: with `--call-graph dwarf` on a Python
// program calling CUDA through ctypes, the first dozen frames are libffi, _ctypes and
// CPython's C call machinery, and the Python frames that say which line of the user's code
// made the call come after them. So the line keeps the innermost frame (the function called,
// or where the thread blocked), then prefers the program's frames — Python frames and native
// frames outside the C runtime, interpreter and FFI glue — over those "plumbing" frames, and
// says where and how many frames were left out. docs/export.md describes the rule.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "symbolize/frame.h"

namespace causeway::timeline {

// Most frames the export's one-line stack shows.
inline constexpr size_t kStackLineFrames = 16;

// True for a native frame in the C runtime (libc, the dynamic loader, libpthread, libstdc++,
// libgcc_s, libm, libdl, librt), the CPython interpreter (libpython*, an executable named
// python, python3, python3.11, ...) or the FFI glue (libffi*, _ctypes*), judged by the
// module's file name; and for a native frame with no module (an address outside every
// mapping). Python frames and every other module (the program, its libraries, CUDA's) are
// not plumbing.
bool is_plumbing_frame(const symbolize::Frame& f);

// `frames` (innermost first) on one line joined by " <- ", each frame as
// symbolize::compact_stack shows it. At most `max_frames` frames (at least 1) are shown: all
// of them when they fit; otherwise the innermost frame, then the non-plumbing frames
// innermost first, then, while room is left, plumbing frames innermost first. Frames keep
// their order; each run of frames left out is shown in its place as "... N more" (so a cut
// tail ends the line with " <- ... N more"). Empty for an empty stack.
std::string stack_line(const std::vector<symbolize::Frame>& frames,
                       size_t max_frames = kStackLineFrames);

}  // namespace causeway::timeline

// One symbolized stack frame, native or Python, and how it is shown to people.
//
// A captured native address can become several frames (inlined functions: the innermost
// inlined callee first, the function that really owns the machine code last). Frames that
// cannot be resolved keep their module and offset and say why; nothing is guessed.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace causeway::symbolize {

enum class FrameKind {
  kNative,            // function, source file and line from DWARF debug info
  kSymbolOnly,        // function from the ELF symbol table; no line information
  kUnresolved,        // inside a module, but no symbol covers the address: module+offset
  kBinaryChanged,     // the module's build-id (or, for a file without one, its size and mtime)
                      // differs from the one recorded at trace time
  kBinaryUnverified,  // the module has no build-id and the trace recorded no size and mtime
                      // for it (traces from before they were recorded): it cannot be checked
                      // against the binary that ran, so it is not read
  kBinaryMissing,     // the module file no longer exists or cannot be read as ELF
  kNoMapping,         // the address lies in no recorded file mapping (JIT code, garbage frame)
  kPython,            // a CPython frame, in place of the eval-loop frame that ran it
  kPythonAppended,    // a CPython frame placed after the last trustworthy native frame because
                      // the native walk held no eval-loop frame (interpreter without frame
                      // pointers); the native frames in between are unknown
};

// Stable lowercase names used in the database, JSON and text: "native", "symbol",
// "unresolved", "binary_changed", "binary_unverified", "binary_missing", "no_mapping",
// "python", "python_appended".
std::string_view kind_name(FrameKind kind);
// Inverse of kind_name; kUnresolved for an unknown name.
FrameKind kind_from_name(std::string_view name);

struct Frame {
  FrameKind kind = FrameKind::kUnresolved;
  std::string function;        // demangled C++ / C / Python function name; empty when unknown
  std::string file;            // source file; empty when unknown
  int64_t line = 0;            // 1-based source line being executed (calls: the call); 0 = unknown
  std::string module;          // mapped file (native frames); empty for Python and unmapped frames
  uint64_t pc = 0;             // address as captured (0 for Python frames)
  uint64_t module_offset = 0;  // file offset of the looked-up address inside `module`, bytes
  bool inlined = false;        // inlined into the next (outer) frame; same pc as that frame
};

// "function at file:line", "function (module+0x1a2b)", "module+0x1a2b [binary changed since
// the trace]", ... — one line, for text output. File names are shortened to their last two
// path components.
std::string describe(const Frame& f);
// The frame's name in a flame graph (folded stacks): the function; Python frames as
// "function (file.py:line)"; unresolved frames as "module+0xoffset" (module basename). Never
// contains ';' or a newline.
std::string folded_name(const Frame& f);
// Last `components` path components of `path` ("a/b/c.cpp", 2 -> "b/c.cpp").
std::string tail_path(std::string_view path, int components);
// A whole stack on one line, innermost first, frames joined by " <- ": "fn (file.cpp:42)",
// Python frames likewise, unresolved ones as in folded_name; at most `max_frames`, then
// "<- ... N more".
std::string compact_stack(const std::vector<Frame>& frames, size_t max_frames);
// Identity of a frame for aggregation: equal keys display identically.
std::string frame_key(const Frame& f);
// True when the walk visibly stopped early: the outermost frame is a named native function
// that is not where a thread's stack begins (main, the program's entry or a thread's start
// routine: _start, __libc_start_main, start_thread, clone3, ...). That is usually code without
// frame pointers (or a stack deeper than the capture's 32 frames). False for an empty stack and
// when the outermost frame cannot be named (unresolved, no mapping, Python only): nothing is
// claimed about what cannot be seen.
bool stack_ends_early(const std::vector<Frame>& frames);
// The line text outputs show under a stack for which stack_ends_early() is true. What it
// advises depends on how the trace took its stacks, `call_graph` being the trace's meta
// `call_graph` ("fp", "dwarf,BYTES"; "" when unknown): with fp, trace with
// `--call-graph dwarf`; with dwarf that was already done, so a larger BYTES (the copy ran
// out) or code without CFI.
std::string stack_ends_early_note(std::string_view call_graph);

}  // namespace causeway::symbolize

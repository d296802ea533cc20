// Where CPython keeps what a stack walk needs, per interpreter version: the offsets of the
// fields of _PyRuntimeState, PyInterpreterState, PyThreadState, the frame and code object
// structs, and of the string/bytes objects that hold names and line tables.
//
// 3.10, 3.11 and 3.12 come from tables written for those versions' struct layouts (x86-64,
// default build: no Py_DEBUG, no free threading). The 3.11 table is checked against the
// installed python3.11 headers by tests/unit/capture_python_layout_test.cpp. 3.13 and later
// publish their own offsets in _PyRuntime.debug_offsets (_Py_DebugOffsets, cookie
// "xdebugpy"); those are parsed and sanity-checked instead of trusted blindly. Anything else
// is refused with a sentence that says so. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "capture/python_linetable.h"
#include "common/result.h"

struct cw_py_proc;

namespace causeway::capture {

struct PyLayout {
  int minor = 0;             // 3.<minor>
  uint32_t version_hex = 0;  // PY_VERSION_HEX when known (Py_Version / debug offsets), else 0
  // Interpreter and thread lists.
  uint64_t runtime_interpreters_head = 0;
  uint64_t interp_next = 0;
  uint64_t interp_threads_head = 0;
  uint64_t tstate_next = 0;
  uint64_t tstate_thread_id = 0;      // native_thread_id (3.11+) or thread_id (3.10)
  bool thread_id_is_pthread = false;  // 3.10: pthread_self() rather than the kernel tid
  uint64_t tstate_frame = 0;          // frame (3.10) / cframe (3.11, 3.12) / current_frame
  int64_t cframe_current_frame = -1;  // _PyCFrame.current_frame, -1 when there is no cframe
  // Frames.
  uint64_t frame_previous = 0;
  uint64_t frame_code = 0;
  uint64_t frame_instr = 0;       // prev_instr (3.11, 3.12), instr_ptr (3.13), f_lasti (3.10)
  bool instr_is_lasti = false;    // 3.10: an int instruction index, not a pointer
  bool instr_is_current = false;  // 3.13: points at the current instruction, not the previous
  int64_t frame_owner = -1;       // 3.11+
  int64_t frame_is_entry = -1;    // 3.11 only
  int32_t owner_cstack = -1;      // FRAME_OWNED_BY_CSTACK (3.12+)
  // Code objects.
  uint64_t code_filename = 0;
  uint64_t code_name = 0;
  int64_t code_qualname = -1;  // 3.11+
  uint64_t code_linetable = 0;
  uint64_t code_firstlineno = 0;     // int
  int64_t code_firsttraceable = -1;  // int _co_firsttraceable (3.11+): earlier = incomplete frame
  int64_t code_adaptive = -1;        // co_code_adaptive, the bytecode (3.11+)
  LineTableFormat line_format = LineTableFormat::kLocations;
  // Objects.
  uint64_t ob_type = 8;
  uint64_t type_tp_name = 24;
  uint64_t bytes_size = 16;  // ob_size
  uint64_t bytes_data = 32;  // ob_sval
  uint64_t unicode_length = 16;
  uint64_t unicode_state = 32;
  uint64_t ascii_size = 48;    // sizeof(PyASCIIObject): compact ASCII data follows
  uint64_t compact_size = 72;  // sizeof(PyCompactUnicodeObject): other compact data follows
};

// The built-in table for 3.<minor> (10, 11, 12); an error sentence for other versions (3.13+
// must come from the process's debug offsets).
Result<PyLayout> python_layout_for(int minor);

// Parses _Py_DebugOffsets as read from the start of _PyRuntime (3.13: its first 8 bytes are
// "xdebugpy"). Checks the cookie, that the version is a supported one, and that every offset
// lies inside its struct's declared size; fails with a sentence otherwise.
Result<PyLayout> python_layout_from_debug_offsets(std::span<const uint8_t> bytes);
// Bytes to read from _PyRuntime for python_layout_from_debug_offsets.
constexpr size_t kPyDebugOffsetsBytes = 640;

// The BPF configuration for a process using `layout` whose _PyRuntime is at `runtime_addr`.
void fill_py_proc(const PyLayout& layout, uint64_t runtime_addr, cw_py_proc& out);

// "3.11.2" from a PY_VERSION_HEX value.
std::string python_version_text(uint32_t version_hex);

}  // namespace causeway::capture

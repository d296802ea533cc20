#include "capture/python_layout.h"

#include <cstring>

#include "causeway/abi/events.h"

namespace causeway::capture {
namespace {

// Fields shared by the 3.11-3.13 code objects: the adaptive bytecode follows
// `int _co_firsttraceable; void *co_extra;`, so the former sits 16 bytes before it.
constexpr int64_t kFirstTraceableBeforeAdaptive = 16;

PyLayout layout_310() {
  PyLayout l;
  l.minor = 10;
  // _PyRuntimeState.interpreters.head (Include/internal/pycore_runtime.h): 3.10's runtime
  // state starts with four ints (preinitializing .. initialized, no `_initialized` yet, which
  // 3.11 added), then _finalizing at 16 and interpreters {mutex 24, head 32}.
  l.runtime_interpreters_head = 32;
  l.interp_next = 0;
  l.interp_threads_head = 8;  // PyInterpreterState.tstate_head
  l.tstate_next = 8;
  l.tstate_thread_id = 176;  // thread_id (pthread_self); 3.10 has no native_thread_id
  l.thread_id_is_pthread = true;
  l.tstate_frame = 24;    // PyFrameObject *frame
  l.frame_previous = 24;  // PyFrameObject.f_back
  l.frame_code = 32;      // f_code
  l.frame_instr = 96;     // int f_lasti, in code units
  l.instr_is_lasti = true;
  l.code_firstlineno = 40;
  l.code_filename = 104;
  l.code_name = 112;
  l.code_linetable = 120;
  l.line_format = LineTableFormat::kPep626;
  l.ascii_size = 48;
  l.compact_size = 72;
  return l;
}

PyLayout layout_311() {
  PyLayout l;
  l.minor = 11;
  l.runtime_interpreters_head = 40;
  l.interp_next = 0;
  l.interp_threads_head = 16;
  l.tstate_next = 8;
  l.tstate_thread_id = 160;  // native_thread_id
  l.tstate_frame = 56;       // _PyCFrame *cframe
  l.cframe_current_frame = 8;
  l.frame_previous = 48;
  l.frame_code = 32;
  l.frame_instr = 56;  // prev_instr
  l.frame_is_entry = 68;
  l.frame_owner = 69;
  l.code_firstlineno = 72;
  l.code_filename = 112;
  l.code_name = 120;
  l.code_qualname = 128;
  l.code_linetable = 136;
  l.code_firsttraceable = 168;
  l.code_adaptive = 184;
  l.ascii_size = 48;
  l.compact_size = 72;
  return l;
}

PyLayout layout_312() {
  PyLayout l;
  l.minor = 12;
  l.runtime_interpreters_head = 40;
  l.interp_next = 0;
  l.interp_threads_head = 72;
  l.tstate_next = 8;
  l.tstate_thread_id = 144;
  l.tstate_frame = 56;  // _PyCFrame *cframe
  l.cframe_current_frame = 0;
  l.frame_code = 0;
  l.frame_previous = 8;
  l.frame_instr = 56;  // prev_instr
  l.frame_owner = 70;
  l.owner_cstack = 3;  // FRAME_OWNED_BY_CSTACK
  l.code_firstlineno = 68;
  l.code_filename = 112;
  l.code_name = 120;
  l.code_qualname = 128;
  l.code_linetable = 136;
  l.code_firsttraceable = 176;
  l.code_adaptive = 192;
  l.ascii_size = 40;
  l.compact_size = 56;
  return l;
}

uint64_t u64_at(std::span<const uint8_t> b, size_t index) {
  uint64_t v = 0;
  std::memcpy(&v, b.data() + index * 8, 8);
  return v;
}

}  // namespace

Result<PyLayout> python_layout_for(int minor) {
  switch (minor) {
    case 10:
      return layout_310();
    case 11:
      return layout_311();
    case 12:
      return layout_312();
    default:
      if (minor >= 13)
        return Status::Error("CPython 3." + std::to_string(minor) +
                             " publishes its layout in _PyRuntime.debug_offsets, which could not "
                             "be read");
      return Status::Error("CPython 3." + std::to_string(minor) +
                           " is not supported for Python stacks (3.10 to 3.13 are)");
  }
}

// _Py_DebugOffsets of CPython 3.13 (Include/internal/pycore_runtime.h): all uint64_t, in this
// order after char cookie[8]. Indexes are in 8-byte words from the start of _PyRuntime.
namespace dbg313 {
constexpr size_t kVersion = 1, kFreeThreaded = 2;
constexpr size_t kRuntimeSize = 3, kRuntimeInterpretersHead = 5;
constexpr size_t kInterpSize = 6, kInterpNext = 8, kInterpThreadsHead = 9;
constexpr size_t kTstateSize = 19, kTstateNext = 21, kTstateCurrentFrame = 23,
                 kTstateNativeThreadId = 25;
constexpr size_t kFrameSize = 28, kFramePrevious = 29, kFrameExecutable = 30, kFrameInstrPtr = 31,
                 kFrameOwner = 33;
constexpr size_t kCodeSize = 34, kCodeFilename = 35, kCodeName = 36, kCodeQualname = 37,
                 kCodeLinetable = 38, kCodeFirstlineno = 39, kCodeAdaptive = 43;
constexpr size_t kPyObjectSize = 44, kPyObjectType = 45;
constexpr size_t kTypeSize = 46, kTypeName = 47;
constexpr size_t kBytesSize = 64, kBytesObSize = 65, kBytesSval = 66;
constexpr size_t kUnicodeSize = 67, kUnicodeState = 68, kUnicodeLength = 69, kAsciiSize = 70;
constexpr size_t kWords = 71;
}  // namespace dbg313

Result<PyLayout> python_layout_from_debug_offsets(std::span<const uint8_t> bytes) {
  using namespace dbg313;
  if (bytes.size() < kWords * 8 || std::memcmp(bytes.data(), "xdebugpy", 8) != 0)
    return Status::Error(
        "_PyRuntime does not start with CPython's debug offsets (cookie \"xdebugpy\" missing)");
  const auto w = [&](size_t i) { return u64_at(bytes, i); };
  const uint32_t hex = static_cast<uint32_t>(w(kVersion));
  const int major = static_cast<int>(hex >> 24), minor = static_cast<int>((hex >> 16) & 0xff);
  if (major != 3 || minor != 13)
    return Status::Error("CPython " + python_version_text(hex) +
                         " is not supported for Python stacks (3.10 to 3.13 are); its debug "
                         "offsets have a layout this causeway does not know");
  if (w(kFreeThreaded) != 0)
    return Status::Error("free-threaded CPython " + python_version_text(hex) +
                         " is not supported for Python stacks");
  // Every offset must lie inside the struct whose size the table states; a table that fails
  // this was not written by the CPython version it claims.
  struct Check {
    size_t field, size;
  };
  const Check checks[] = {
      {kRuntimeInterpretersHead, kRuntimeSize},
      {kInterpNext, kInterpSize},
      {kInterpThreadsHead, kInterpSize},
      {kTstateNext, kTstateSize},
      {kTstateCurrentFrame, kTstateSize},
      {kTstateNativeThreadId, kTstateSize},
      {kFramePrevious, kFrameSize},
      {kFrameExecutable, kFrameSize},
      {kFrameInstrPtr, kFrameSize},
      {kFrameOwner, kFrameSize},
      {kCodeFilename, kCodeSize},
      {kCodeName, kCodeSize},
      {kCodeQualname, kCodeSize},
      {kCodeLinetable, kCodeSize},
      {kCodeFirstlineno, kCodeSize},
      {kCodeAdaptive, kCodeSize},
      {kPyObjectType, kPyObjectSize},
      {kTypeName, kTypeSize},
      {kBytesObSize, kBytesSize},
      {kBytesSval, kBytesSize},
      {kUnicodeState, kUnicodeSize},
      {kUnicodeLength, kUnicodeSize},
  };
  for (const Check& c : checks) {
    if (w(c.size) == 0 || w(c.size) > (1u << 20) || w(c.field) + 1 > w(c.size))
      return Status::Error("the debug offsets of CPython " + python_version_text(hex) +
                           " are inconsistent (an offset lies outside its struct)");
  }
  // The BPF walker reads each frame's fields from one 128-byte copy of the frame.
  for (size_t f : {kFramePrevious, kFrameExecutable, kFrameInstrPtr, kFrameOwner}) {
    if (w(f) + 8 > 128)
      return Status::Error("the frame layout of CPython " + python_version_text(hex) +
                           " is larger than causeway's frame reader handles");
  }
  PyLayout l;
  l.minor = minor;
  l.version_hex = hex;
  l.runtime_interpreters_head = w(kRuntimeInterpretersHead);
  l.interp_next = w(kInterpNext);
  l.interp_threads_head = w(kInterpThreadsHead);
  l.tstate_next = w(kTstateNext);
  l.tstate_thread_id = w(kTstateNativeThreadId);
  l.tstate_frame = w(kTstateCurrentFrame);
  l.frame_previous = w(kFramePrevious);
  l.frame_code = w(kFrameExecutable);
  l.frame_instr = w(kFrameInstrPtr);
  l.instr_is_current = true;
  l.frame_owner = static_cast<int64_t>(w(kFrameOwner));
  l.owner_cstack = 3;  // FRAME_OWNED_BY_CSTACK in 3.13
  l.code_filename = w(kCodeFilename);
  l.code_name = w(kCodeName);
  l.code_qualname = static_cast<int64_t>(w(kCodeQualname));
  l.code_linetable = w(kCodeLinetable);
  l.code_firstlineno = w(kCodeFirstlineno);
  l.code_adaptive = static_cast<int64_t>(w(kCodeAdaptive));
  l.code_firsttraceable = l.code_adaptive - kFirstTraceableBeforeAdaptive;
  l.ob_type = w(kPyObjectType);
  l.type_tp_name = w(kTypeName);
  l.bytes_size = w(kBytesObSize);
  l.bytes_data = w(kBytesSval);
  l.unicode_state = w(kUnicodeState);
  l.unicode_length = w(kUnicodeLength);
  l.ascii_size = w(kAsciiSize);
  l.compact_size = l.ascii_size + 16;  // + Py_ssize_t utf8_length + char *utf8
  return l;
}

void fill_py_proc(const PyLayout& l, uint64_t runtime_addr, cw_py_proc& out) {
  std::memset(&out, 0, sizeof(out));
  out.runtime = runtime_addr;
  out.interp_head = static_cast<uint16_t>(l.runtime_interpreters_head);
  out.interp_next = static_cast<uint16_t>(l.interp_next);
  out.interp_threads = static_cast<uint16_t>(l.interp_threads_head);
  out.ts_next = static_cast<uint16_t>(l.tstate_next);
  out.ts_thread_id = static_cast<uint16_t>(l.tstate_thread_id);
  out.ts_frame = static_cast<uint16_t>(l.tstate_frame);
  out.cframe_frame = static_cast<int16_t>(l.cframe_current_frame);
  out.fr_previous = static_cast<uint16_t>(l.frame_previous);
  out.fr_code = static_cast<uint16_t>(l.frame_code);
  out.fr_instr = static_cast<uint16_t>(l.frame_instr);
  out.fr_owner = static_cast<int16_t>(l.frame_owner);
  out.fr_is_entry = static_cast<int16_t>(l.frame_is_entry);
  out.tid_kind = l.thread_id_is_pthread ? CW_PY_TID_PTHREAD : CW_PY_TID_NATIVE;
  out.instr_kind = l.instr_is_lasti ? CW_PY_INSTR_LASTI : CW_PY_INSTR_PTR;
  out.owner_cstack = static_cast<int8_t>(l.owner_cstack);
  uint64_t end = 0;
  for (int64_t off : {static_cast<int64_t>(l.frame_previous), static_cast<int64_t>(l.frame_code),
                      static_cast<int64_t>(l.frame_instr), l.frame_owner, l.frame_is_entry}) {
    if (off >= 0 && static_cast<uint64_t>(off) + 8 > end) end = static_cast<uint64_t>(off) + 8;
  }
  out.frame_bytes = static_cast<uint8_t>(end > 128 ? 128 : end);
}

std::string python_version_text(uint32_t hex) {
  return std::to_string(hex >> 24) + "." + std::to_string((hex >> 16) & 0xff) + "." +
         std::to_string((hex >> 8) & 0xff);
}

}  // namespace causeway::capture

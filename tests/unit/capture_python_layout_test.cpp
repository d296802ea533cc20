// CPython layouts: the 3.11 table against offsetof() on the installed headers, the 3.13
// debug-offsets parser on synthetic tables (good and bad), unknown versions, and the BPF
// configuration derived from a layout.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "capture/python_layout.h"
#include "causeway/abi/events.h"

#ifdef CAUSEWAY_HAVE_PY311_HEADERS
#include "support/python311_offsets.h"
#endif

namespace causeway::capture {
namespace {

TEST(CapturePythonLayout, Table311MatchesTheInstalledHeaders) {
#ifndef CAUSEWAY_HAVE_PY311_HEADERS
  GTEST_SKIP() << "python3.11-dev headers are not installed (scripts/install-deps.sh adds them)";
#else
  Python311Offsets o{};
  python311_offsets(&o);
  ASSERT_EQ(o.version_hex >> 16, 0x030bu);
  auto r = python_layout_for(11);
  ASSERT_TRUE(r.ok()) << r.error();
  const PyLayout& l = r.value();
  EXPECT_EQ(l.runtime_interpreters_head, o.runtime_interpreters_head);
  EXPECT_EQ(l.interp_next, o.interp_next);
  EXPECT_EQ(l.interp_threads_head, o.interp_threads_head);
  EXPECT_EQ(l.tstate_next, o.tstate_next);
  EXPECT_EQ(l.tstate_thread_id, o.tstate_native_thread_id);
  EXPECT_EQ(l.tstate_frame, o.tstate_cframe);
  EXPECT_EQ(l.cframe_current_frame, static_cast<int64_t>(o.cframe_current_frame));
  EXPECT_EQ(l.frame_previous, o.frame_previous);
  EXPECT_EQ(l.frame_code, o.frame_code);
  EXPECT_EQ(l.frame_instr, o.frame_prev_instr);
  EXPECT_EQ(l.frame_is_entry, static_cast<int64_t>(o.frame_is_entry));
  EXPECT_EQ(l.frame_owner, static_cast<int64_t>(o.frame_owner));
  EXPECT_EQ(l.code_firstlineno, o.code_firstlineno);
  EXPECT_EQ(l.code_filename, o.code_filename);
  EXPECT_EQ(l.code_name, o.code_name);
  EXPECT_EQ(l.code_qualname, static_cast<int64_t>(o.code_qualname));
  EXPECT_EQ(l.code_linetable, o.code_linetable);
  EXPECT_EQ(l.code_firsttraceable, static_cast<int64_t>(o.code_firsttraceable));
  EXPECT_EQ(l.code_adaptive, static_cast<int64_t>(o.code_adaptive));
  EXPECT_EQ(l.ob_type, o.ob_type);
  EXPECT_EQ(l.type_tp_name, o.type_tp_name);
  EXPECT_EQ(l.bytes_size, o.bytes_size);
  EXPECT_EQ(l.bytes_data, o.bytes_data);
  EXPECT_EQ(l.unicode_length, o.unicode_length);
  EXPECT_EQ(l.ascii_size, o.ascii_size);
  EXPECT_EQ(l.compact_size, o.compact_size);
#endif
}

TEST(CapturePythonLayout, TablesExistFor310To312AndOtherVersionsAreRefusedInWords) {
  for (int minor : {10, 11, 12}) {
    auto r = python_layout_for(minor);
    ASSERT_TRUE(r.ok()) << minor;
    EXPECT_EQ(r.value().minor, minor);
  }
  EXPECT_TRUE(python_layout_for(10).value().instr_is_lasti);
  EXPECT_TRUE(python_layout_for(10).value().thread_id_is_pthread);
  EXPECT_EQ(python_layout_for(10).value().line_format, LineTableFormat::kPep626);
  EXPECT_EQ(python_layout_for(12).value().owner_cstack, 3);
  auto old = python_layout_for(9);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().find("3.9 is not supported"), std::string::npos) << old.error();
  auto newer = python_layout_for(13);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.error().find("debug_offsets"), std::string::npos) << newer.error();
}

// A _Py_DebugOffsets image as CPython 3.13.1 (default build) writes it.
std::vector<uint8_t> debug_offsets_313() {
  std::vector<uint64_t> w(80, 0);
  w[1] = 0x030d01f0;  // 3.13.1 final
  w[2] = 0;           // not free-threaded
  w[3] = 1600;
  w[4] = 48;
  w[5] = 72;  // runtime: size, finalizing, head
  w[6] = 8000;
  w[7] = 8;
  w[8] = 0;
  w[9] = 7352;  // interp: size, id, next, threads
  for (int i = 10; i < 19; i++) w[i] = 16;
  w[19] = 400;
  w[20] = 0;
  w[21] = 8;
  w[22] = 16;  // tstate: size, prev, next, interp
  w[23] = 72;
  w[24] = 152;
  w[25] = 160;
  w[26] = 200;
  w[27] = 32;
  w[28] = 80;
  w[29] = 8;
  w[30] = 0;
  w[31] = 56;
  w[32] = 72;
  w[33] = 70;  // frame
  w[34] = 208;
  w[35] = 112;
  w[36] = 120;
  w[37] = 128;
  w[38] = 136;
  w[39] = 68;
  w[40] = 52;
  w[41] = 96;
  w[42] = 104;
  w[43] = 200;  // code object
  w[44] = 16;
  w[45] = 8;  // PyObject
  w[46] = 400;
  w[47] = 24;
  w[48] = 88;
  w[49] = 168;  // type
  for (int i = 50; i < 64; i++) w[i] = 8;
  w[64] = 40;
  w[65] = 16;
  w[66] = 32;  // bytes
  w[67] = 40;
  w[68] = 32;
  w[69] = 16;
  w[70] = 40;  // unicode
  w[71] = 300;
  w[72] = 8;  // gc
  std::vector<uint8_t> b(kPyDebugOffsetsBytes, 0);
  std::memcpy(b.data(), w.data(), std::min(b.size(), w.size() * 8));
  std::memcpy(b.data(), "xdebugpy", 8);
  return b;
}

TEST(CapturePythonLayout, DebugOffsetsOf313AreParsed) {
  auto r = python_layout_from_debug_offsets(debug_offsets_313());
  ASSERT_TRUE(r.ok()) << r.error();
  const PyLayout& l = r.value();
  EXPECT_EQ(l.minor, 13);
  EXPECT_EQ(python_version_text(l.version_hex), "3.13.1");
  EXPECT_EQ(l.runtime_interpreters_head, 72u);
  EXPECT_EQ(l.interp_threads_head, 7352u);
  EXPECT_EQ(l.tstate_thread_id, 160u);
  EXPECT_EQ(l.tstate_frame, 72u);
  EXPECT_EQ(l.cframe_current_frame, -1);
  EXPECT_EQ(l.frame_code, 0u);
  EXPECT_EQ(l.frame_previous, 8u);
  EXPECT_EQ(l.frame_instr, 56u);
  EXPECT_TRUE(l.instr_is_current);
  EXPECT_EQ(l.frame_owner, 70);
  EXPECT_EQ(l.code_qualname, 128);
  EXPECT_EQ(l.code_adaptive, 200);
  EXPECT_EQ(l.code_firsttraceable, 184);  // 3.13: _co_firsttraceable, co_extra, bytecode
  EXPECT_EQ(l.ascii_size, 40u);
  EXPECT_EQ(l.compact_size, 56u);
}

TEST(CapturePythonLayout, BadDebugOffsetsAreRefusedNotTrusted) {
  auto b = debug_offsets_313();
  b[0] = 'y';
  auto r = python_layout_from_debug_offsets(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("xdebugpy"), std::string::npos) << r.error();

  // A valid table with one 8-byte word changed is refused, saying why.
  auto refused_with_word = [](size_t word, uint64_t value, const char* why) {
    auto b = debug_offsets_313();
    std::memcpy(b.data() + word * 8, &value, 8);
    auto r = python_layout_from_debug_offsets(b);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_NE(r.error().find(why), std::string::npos) << r.error();
  };
  refused_with_word(1, 0x030e00f0, "3.14.0 is not supported");
  refused_with_word(2, 1, "free-threaded");
  refused_with_word(25, 5000, "inconsistent");  // native_thread_id beyond sizeof(PyThreadState)

  r = python_layout_from_debug_offsets(std::vector<uint8_t>(16, 0));
  EXPECT_FALSE(r.ok());
}

TEST(CapturePythonLayout, BpfConfigurationCoversEveryFrameField) {
  for (int minor : {10, 11, 12}) {
    const PyLayout l = python_layout_for(minor).value();
    cw_py_proc c{};
    fill_py_proc(l, 0x1234, c);
    EXPECT_EQ(c.runtime, 0x1234u);
    EXPECT_EQ(c.ts_thread_id, l.tstate_thread_id);
    EXPECT_GE(c.frame_bytes, c.fr_previous + 8) << minor;
    EXPECT_GE(c.frame_bytes, c.fr_code + 8) << minor;
    EXPECT_GE(c.frame_bytes, c.fr_instr + 4) << minor;
    EXPECT_LE(c.frame_bytes, 128) << minor;
    if (c.fr_owner >= 0) {
      EXPECT_GT(c.frame_bytes, c.fr_owner) << minor;
    }
  }
  cw_py_proc c{};
  fill_py_proc(python_layout_for(10).value(), 1, c);
  EXPECT_EQ(c.tid_kind, CW_PY_TID_PTHREAD);
  EXPECT_EQ(c.instr_kind, CW_PY_INSTR_LASTI);
  EXPECT_EQ(c.cframe_frame, -1);
  EXPECT_EQ(c.fr_owner, -1);
  fill_py_proc(python_layout_for(11).value(), 1, c);
  EXPECT_EQ(c.tid_kind, CW_PY_TID_NATIVE);
  EXPECT_EQ(c.cframe_frame, 8);
  EXPECT_EQ(c.fr_is_entry, 68);
  EXPECT_EQ(c.owner_cstack, -1);
}

// The built-in tables pinned to the offsets worked out, field by field, from CPython's own
// struct definitions (x86-64, default build): 8-byte pointers/Py_ssize_t, 4-byte int, natural
// alignment. Only 3.11 can be checked by the compiler here (above); 3.10 and 3.12 come from the
// headers of their release branches, cited per field.
TEST(CapturePythonLayout, Table310MatchesTheHeaders) {
  const PyLayout l = python_layout_for(10).value();
  // Include/internal/pycore_runtime.h, struct pyruntimestate: int preinitializing,
  // preinitialized, core_initialized, initialized (0..15), _Py_atomic_address _finalizing (16),
  // struct pyinterpreters { PyThread_type_lock mutex (24); PyInterpreterState *head (32) }.
  EXPECT_EQ(l.runtime_interpreters_head, 32u);
  // Include/internal/pycore_interp.h, struct _is: struct _is *next (0); struct _ts
  // *tstate_head (8).
  EXPECT_EQ(l.interp_next, 0u);
  EXPECT_EQ(l.interp_threads_head, 8u);
  // Include/cpython/pystate.h, struct _ts: prev 0, next 8, interp 16, PyFrameObject *frame 24;
  // five ints 32..51, four callback pointers 56..87, curexc_type/value/traceback 88..111,
  // _PyErr_StackItem exc_state (4 pointers) 112..143, exc_info 144, dict 152, int
  // gilstate_counter 160, async_exc 168, unsigned long thread_id 176.
  EXPECT_EQ(l.tstate_next, 8u);
  EXPECT_EQ(l.tstate_frame, 24u);
  EXPECT_EQ(l.tstate_thread_id, 176u);
  // Include/cpython/frameobject.h, struct _frame: PyObject_VAR_HEAD (24), f_back 24, f_code 32,
  // f_builtins 40, f_globals 48, f_locals 56, f_valuestack 64, f_trace 72, int f_stackdepth 80,
  // char f_trace_lines 84, f_trace_opcodes 85, f_gen 88, int f_lasti 96.
  EXPECT_EQ(l.frame_previous, 24u);
  EXPECT_EQ(l.frame_code, 32u);
  EXPECT_EQ(l.frame_instr, 96u);
  // Include/cpython/code.h, struct PyCodeObject: PyObject_HEAD (16), seven ints 16..43
  // (co_firstlineno 40), co_code 48, co_consts 56, co_names 64, co_varnames 72, co_freevars 80,
  // co_cellvars 88, co_cell2arg 96, co_filename 104, co_name 112, co_linetable 120.
  EXPECT_EQ(l.code_firstlineno, 40u);
  EXPECT_EQ(l.code_filename, 104u);
  EXPECT_EQ(l.code_name, 112u);
  EXPECT_EQ(l.code_linetable, 120u);
  EXPECT_EQ(l.code_qualname, -1);  // co_qualname is 3.11+
  // Include/cpython/unicodeobject.h: PyASCIIObject = PyObject_HEAD, length, hash, state
  // (padded to 8), wchar_t *wstr = 48; PyCompactUnicodeObject adds utf8_length, utf8,
  // wstr_length = 72.
  EXPECT_EQ(l.ascii_size, 48u);
  EXPECT_EQ(l.compact_size, 72u);
}

TEST(CapturePythonLayout, Table312MatchesTheHeaders) {
  const PyLayout l = python_layout_for(12).value();
  // Include/internal/pycore_runtime.h: int _initialized (new in 3.11) + four ints (0..19),
  // _finalizing 24, interpreters { mutex 32, head 40 }.
  EXPECT_EQ(l.runtime_interpreters_head, 40u);
  // Include/internal/pycore_interp.h, struct _is (3.12: `next` first; 3.13 moved `ceval`
  // before it): next 0, int64_t id 8, id_refcount 16, int requires_idref 24, id_mutex 32, int
  // _initialized 40, int finalizing 44, uint64_t monitoring_version 48,
  // last_restart_version 56, threads { uint64_t next_unique_id 64; PyThreadState *head 72 }.
  EXPECT_EQ(l.interp_next, 0u);
  EXPECT_EQ(l.interp_threads_head, 72u);
  // Include/cpython/pystate.h, struct _ts: prev 0, next 8, interp 16, _status bitfield 24,
  // seven ints 28..55, _PyCFrame *cframe 56, c_profilefunc 64, c_tracefunc 72, c_profileobj 80,
  // c_traceobj 88, current_exception 96, exc_info 104, dict 112, int gilstate_counter 120,
  // async_exc 128, unsigned long thread_id 136, native_thread_id 144.
  EXPECT_EQ(l.tstate_next, 8u);
  EXPECT_EQ(l.tstate_frame, 56u);
  EXPECT_EQ(l.tstate_thread_id, 144u);
  // _PyCFrame (pystate.h): 3.12 dropped use_tracing, so current_frame is first.
  EXPECT_EQ(l.cframe_current_frame, 0);
  // Include/internal/pycore_frame.h, _PyInterpreterFrame: PyCodeObject *f_code 0, previous 8,
  // f_funcobj 16, f_globals 24, f_builtins 32, f_locals 40, frame_obj 48, prev_instr 56, int
  // stacktop 64, uint16_t return_offset 68, char owner 70; FRAME_OWNED_BY_CSTACK = 3.
  EXPECT_EQ(l.frame_code, 0u);
  EXPECT_EQ(l.frame_previous, 8u);
  EXPECT_EQ(l.frame_instr, 56u);
  EXPECT_EQ(l.frame_owner, 70);
  EXPECT_EQ(l.owner_cstack, 3);
  EXPECT_EQ(l.frame_is_entry, -1);  // 3.11's is_entry is gone in 3.12
  // Include/cpython/code.h, _PyCode_DEF: PyObject_VAR_HEAD (24), co_consts 24, co_names 32,
  // co_exceptiontable 40, ints co_flags 48 .. co_firstlineno 68 .. co_nfreevars 88, uint32_t
  // co_version 92, co_localsplusnames 96, co_localspluskinds 104, co_filename 112, co_name 120,
  // co_qualname 128, co_linetable 136, co_weakreflist 144, _co_cached 152,
  // _co_instrumentation_version 160, _co_monitoring 168, int _co_firsttraceable 176,
  // void *co_extra 184, co_code_adaptive 192.
  EXPECT_EQ(l.code_firstlineno, 68u);
  EXPECT_EQ(l.code_filename, 112u);
  EXPECT_EQ(l.code_name, 120u);
  EXPECT_EQ(l.code_qualname, 128);
  EXPECT_EQ(l.code_linetable, 136u);
  EXPECT_EQ(l.code_firsttraceable, 176);
  EXPECT_EQ(l.code_adaptive, 192);
  // Include/cpython/unicodeobject.h: 3.12 removed wstr: PyASCIIObject = 40,
  // PyCompactUnicodeObject = 56.
  EXPECT_EQ(l.ascii_size, 40u);
  EXPECT_EQ(l.compact_size, 56u);
}

// _Py_DebugOffsets of 3.13 written field by field in the order of its declaration
// (Include/internal/pycore_runtime.h on the 3.13 branch; moved to pycore_debug_offsets.h in
// 3.14, which added fields), each with a distinct value, so that every field the parser
// reads is checked to come from the right place.
struct DebugOffsets313 {
  char cookie[8];
  uint64_t version, free_threaded;
  uint64_t rt_size, rt_finalizing, rt_interpreters_head;
  uint64_t is_size, is_id, is_next, is_threads_head, is_gc, is_imports_modules, is_sysdict,
      is_builtins, is_ceval_gil, is_gil_runtime_state, is_gil_enabled, is_gil_locked, is_gil_holder;
  uint64_t ts_size, ts_prev, ts_next, ts_interp, ts_current_frame, ts_thread_id,
      ts_native_thread_id, ts_datastack_chunk, ts_status;
  uint64_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_localsplus, fr_owner;
  uint64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_argcount,
      co_localsplusnames, co_localspluskinds, co_code_adaptive;
  uint64_t ob_size_, ob_type;
  uint64_t ty_size, ty_tp_name, ty_tp_repr, ty_tp_flags;
  uint64_t tu_size, tu_ob_item, tu_ob_size;
  uint64_t li_size, li_ob_item, li_ob_size;
  uint64_t di_size, di_ma_keys, di_ma_values;
  uint64_t fl_size, fl_ob_fval;
  uint64_t lo_size, lo_lv_tag, lo_ob_digit;
  uint64_t by_size, by_ob_size, by_ob_sval;
  uint64_t un_size, un_state, un_length, un_asciiobject_size;
  uint64_t gc_size, gc_collecting;
};

TEST(CapturePythonLayout, DebugOffsetsFieldsAreReadFromTheirDeclaredPlaces) {
  DebugOffsets313 d{};
  std::memcpy(d.cookie, "xdebugpy", 8);
  d.version = 0x030d02f0;                         // 3.13.2 final
  d.rt_size = 2000, d.rt_interpreters_head = 48;  // after the 8-byte-aligned debug offsets
  d.is_size = 9000, d.is_next = 11, d.is_threads_head = 13;
  d.ts_size = 500, d.ts_next = 17, d.ts_current_frame = 19, d.ts_native_thread_id = 23;
  d.fr_size = 80, d.fr_previous = 29, d.fr_executable = 31, d.fr_instr_ptr = 37, d.fr_owner = 41;
  d.co_size = 300, d.co_filename = 43, d.co_name = 47, d.co_qualname = 53, d.co_linetable = 59,
  d.co_firstlineno = 61, d.co_code_adaptive = 200;
  d.ob_size_ = 16, d.ob_type = 7;
  d.ty_size = 400, d.ty_tp_name = 67;
  d.by_size = 40, d.by_ob_size = 15, d.by_ob_sval = 33;
  d.un_size = 60, d.un_state = 35, d.un_length = 14, d.un_asciiobject_size = 39;
  std::vector<uint8_t> b(kPyDebugOffsetsBytes, 0);
  static_assert(sizeof(DebugOffsets313) <= kPyDebugOffsetsBytes);
  std::memcpy(b.data(), &d, sizeof d);
  auto r = python_layout_from_debug_offsets(b);
  ASSERT_TRUE(r.ok()) << r.error();
  const PyLayout& l = r.value();
  EXPECT_EQ(python_version_text(l.version_hex), "3.13.2");
  EXPECT_EQ(l.runtime_interpreters_head, 48u);
  EXPECT_EQ(l.interp_next, 11u);
  EXPECT_EQ(l.interp_threads_head, 13u);
  EXPECT_EQ(l.tstate_next, 17u);
  EXPECT_EQ(l.tstate_frame, 19u);
  EXPECT_EQ(l.tstate_thread_id, 23u);
  EXPECT_FALSE(l.thread_id_is_pthread);
  EXPECT_EQ(l.frame_previous, 29u);
  EXPECT_EQ(l.frame_code, 31u);
  EXPECT_EQ(l.frame_instr, 37u);
  EXPECT_EQ(l.frame_owner, 41);
  EXPECT_EQ(l.code_filename, 43u);
  EXPECT_EQ(l.code_name, 47u);
  EXPECT_EQ(l.code_qualname, 53);
  EXPECT_EQ(l.code_linetable, 59u);
  EXPECT_EQ(l.code_firstlineno, 61u);
  EXPECT_EQ(l.code_adaptive, 200);
  EXPECT_EQ(l.ob_type, 7u);
  EXPECT_EQ(l.type_tp_name, 67u);
  EXPECT_EQ(l.bytes_size, 15u);
  EXPECT_EQ(l.bytes_data, 33u);
  EXPECT_EQ(l.unicode_state, 35u);
  EXPECT_EQ(l.unicode_length, 14u);
  EXPECT_EQ(l.ascii_size, 39u);
}

}  // namespace
}  // namespace causeway::capture

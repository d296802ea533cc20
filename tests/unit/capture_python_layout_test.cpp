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

}  // namespace
}  // namespace causeway::capture

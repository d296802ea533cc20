// ModuleSymbolizer on this test binary itself (a PIE built with -g): exact function, file and
// line; inlined frames; build-id verification (size and mtime for files without one); missing
// and stripped files; separate debug info found through .gnu_debuglink.
#include "symbolize/module_symbolizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "host/elf_file.h"
#include "support/test_support.h"

namespace causeway::symbolize {

// Outside the anonymous namespace so the demangled names are predictable.
namespace probe {

// Returns its own return address: the instruction after the call in the caller.
__attribute__((noinline)) uint64_t return_address() {
  return reinterpret_cast<uint64_t>(__builtin_return_address(0));
}

static inline __attribute__((always_inline)) uint64_t inlined_helper() {
  volatile uint64_t r = return_address();  // LINE_INLINED_CALL
  return r;
}

__attribute__((noinline)) uint64_t outer_function(int) {
  volatile uint64_t r = inlined_helper();  // LINE_OUTER_CALL
  return r;
}

__attribute__((noinline)) uint64_t plain_caller() {
  volatile uint64_t r = return_address();  // LINE_PLAIN_CALL
  return r;
}

}  // namespace probe

namespace {

// Line of the marker comment in this file.
int64_t marker_line(const std::string& marker) {
  std::ifstream in(std::string(CAUSEWAY_SOURCE_DIR) +
                   "/tests/unit/symbolize_module_symbolizer_test.cpp");
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find("// " + marker) != std::string::npos) return n;
  }
  return -1;
}

struct Where {
  std::string path;
  uint64_t file_offset = 0;
};

// The file and file offset of `addr` in this process, from /proc/self/maps.
Where where(uint64_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode >> path;
    const uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    const uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (addr >= start && addr < end) {
      return {path, addr - start + std::stoull(offset, nullptr, 16)};
    }
  }
  return {};
}

std::string self_path() {
  return where(reinterpret_cast<uint64_t>(&probe::plain_caller)).path;
}

TEST(SymbolizeModuleSymbolizerTest, ReturnAddressResolvesToTheCallLine) {
  const uint64_t ret = probe::plain_caller();
  const Where w = where(ret - 1);
  ASSERT_FALSE(w.path.empty());
  ModuleSymbolizer s;
  const auto& frames = s.resolve(w.path, {host::read_build_id(w.path)}, w.file_offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, FrameKind::kNative);
  EXPECT_EQ(frames[0].function, "causeway::symbolize::probe::plain_caller()");
  EXPECT_NE(frames[0].file.find("symbolize_module_symbolizer_test.cpp"), std::string::npos)
      << frames[0].file;
  EXPECT_EQ(frames[0].line, marker_line("LINE_PLAIN_CALL"));
  EXPECT_FALSE(frames[0].inlined);
  EXPECT_EQ(frames[0].module, w.path);
  EXPECT_EQ(frames[0].module_offset, w.file_offset);
}

TEST(SymbolizeModuleSymbolizerTest, InlinedFramesInnermostFirst) {
  const uint64_t ret = probe::outer_function(1);
  const Where w = where(ret - 1);
  ModuleSymbolizer s;
  const auto& frames = s.resolve(w.path, {host::read_build_id(w.path)}, w.file_offset);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "inlined_helper");
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_EQ(frames[0].line, marker_line("LINE_INLINED_CALL"));
  EXPECT_EQ(frames[1].function, "causeway::symbolize::probe::outer_function(int)");
  EXPECT_FALSE(frames[1].inlined);
  EXPECT_EQ(frames[1].line, marker_line("LINE_OUTER_CALL"));
  EXPECT_NE(frames[1].file.find("symbolize_module_symbolizer_test.cpp"), std::string::npos);
}

TEST(SymbolizeModuleSymbolizerTest, EachAddressIsResolvedOnceAndModulesOpenedOnce) {
  const Where a = where(probe::plain_caller() - 1);
  const Where b = where(probe::outer_function(2) - 1);
  ModuleSymbolizer s;
  const std::string id = host::read_build_id(a.path);
  s.resolve(a.path, {id}, a.file_offset);
  s.resolve(a.path, {id}, a.file_offset);
  s.resolve(b.path, {id}, b.file_offset);
  EXPECT_EQ(s.modules_opened(), 1);
  EXPECT_EQ(s.addresses_resolved(), 2);
}

TEST(SymbolizeModuleSymbolizerTest, ChangedBuildIdIsNotSymbolized) {
  const Where w = where(probe::plain_caller() - 1);
  ModuleSymbolizer s;
  const auto& frames = s.resolve(w.path, {"0123456789abcdef"}, w.file_offset);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, FrameKind::kBinaryChanged);
  EXPECT_TRUE(frames[0].function.empty());
  EXPECT_EQ(frames[0].module_offset, w.file_offset);
  EXPECT_NE(describe(frames[0]).find("binary changed since the trace"), std::string::npos);
  // A file that had no build-id at trace time but has one now has changed too.
  EXPECT_EQ(s.resolve(w.path, {""}, w.file_offset)[0].kind, FrameKind::kBinaryChanged);
}

TEST(SymbolizeModuleSymbolizerTest, MissingAndDeletedFilesSayso) {
  ModuleSymbolizer s;
  EXPECT_EQ(s.resolve("/nonexistent/libgone.so", {"ab"}, 0x1234)[0].kind,
            FrameKind::kBinaryMissing);
  const auto& deleted = s.resolve(self_path() + " (deleted)", {""}, 0x1234);
  EXPECT_EQ(deleted[0].kind, FrameKind::kBinaryMissing);
  EXPECT_EQ(describe(deleted[0]).rfind("symbolize_module_symbolizer_test (deleted)+0x1234", 0), 0u)
      << describe(deleted[0]);
}

TEST(SymbolizeModuleSymbolizerTest, OffsetOutsideLoadedSegmentsIsUnresolved) {
  const std::string path = self_path();
  ModuleSymbolizer s;
  const auto& f = s.resolve(path, {host::read_build_id(path)}, uint64_t{1} << 40);
  EXPECT_EQ(f[0].kind, FrameKind::kUnresolved);
  EXPECT_EQ(describe(f[0]), "symbolize_module_symbolizer_test+0x10000000000");
}

// Copies of this binary: without debug info (symbol table only), without anything
// (module+offset), and with its debug info moved to a separate file found by debuglink.
class StrippedCopies : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v objcopy >/dev/null 2>&1") != 0) GTEST_SKIP() << "no objcopy";
  }
  std::string copy(const std::string& name, const std::string& objcopy_args) {
    const std::string out = dir_.file(name);
    const std::string cmd = "objcopy " + objcopy_args + " '" + self_path() + "' '" + out + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
  }
  causeway::testing::TempDir dir_;
};

TEST_F(StrippedCopies, NoDebugInfoGivesTheSymbolOnly) {
  const std::string path = copy("nodebug", "--strip-debug");
  const Where w = where(probe::plain_caller() - 1);
  ModuleSymbolizer s;
  const auto& f = s.resolve(path, {host::read_build_id(path)}, w.file_offset);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, FrameKind::kSymbolOnly);
  EXPECT_EQ(f[0].function, "causeway::symbolize::probe::plain_caller()");
  EXPECT_EQ(f[0].line, 0);
}

TEST_F(StrippedCopies, NoSymbolsAtAllGivesModulePlusOffset) {
  const std::string path = copy("stripped", "--strip-all");
  const Where w = where(probe::plain_caller() - 1);
  ModuleSymbolizer s;
  const auto& f = s.resolve(path, {host::read_build_id(path)}, w.file_offset);
  ASSERT_EQ(f.size(), 1u);
  // Exported dynamic symbols survive --strip-all; this static function is not one of them.
  EXPECT_EQ(f[0].kind, FrameKind::kUnresolved) << describe(f[0]);
  char expected[64];
  std::snprintf(expected, sizeof expected, "stripped+%#llx",
                static_cast<unsigned long long>(w.file_offset));
  EXPECT_EQ(describe(f[0]), expected);
}

TEST_F(StrippedCopies, SeparateDebugInfoThroughDebuglink) {
  const std::string debug = copy("app.debug", "--only-keep-debug");
  const std::string stripped = copy("app", "--strip-debug");
  const std::string cmd = "cd '" + dir_.path() +
                          "' && objcopy --add-gnu-debuglink=app.debug app app.linked && mv "
                          "app.linked app";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  (void)debug;
  const Where w = where(probe::plain_caller() - 1);
  ModuleSymbolizer s;
  const auto& f = s.resolve(stripped, {host::read_build_id(stripped)}, w.file_offset);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, FrameKind::kNative) << describe(f[0]);
  EXPECT_EQ(f[0].line, marker_line("LINE_PLAIN_CALL"));
}

// A file without a build-id: the size and mtime recorded at trace time decide whether it is
// still the binary that ran ("" == "" for the build-id proves nothing).
TEST_F(StrippedCopies, NoBuildIdIsCheckedBySizeAndMtime) {
  const std::string path = copy("nb", "--remove-section .note.gnu.build-id");
  ASSERT_EQ(host::read_build_id(path), "");
  const auto traced = host::read_file_stamp(path);  // what capture records with the mapping
  ASSERT_TRUE(traced);
  EXPECT_GT(traced->size_bytes, 0);
  EXPECT_GT(traced->mtime_ns, 0);
  const Where w = where(probe::plain_caller() - 1);

  {  // unchanged: symbolized as usual
    ModuleSymbolizer s;
    const auto& f = s.resolve(path, {"", traced}, w.file_offset);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].kind, FrameKind::kNative) << describe(f[0]);
    EXPECT_EQ(f[0].function, "causeway::symbolize::probe::plain_caller()");
  }
  // Rebuilt in place: the same code at the same offsets, but another file now (smaller
  // without its debug info; the mtime may even be equal, timestamps being coarse). The names
  // would happen to be right here; in a real rebuild they would be plausible and wrong, so
  // nothing is read.
  copy("nb", "--remove-section .note.gnu.build-id --strip-debug");
  ASSERT_EQ(host::read_build_id(path), "");
  {
    ModuleSymbolizer s;
    const auto& f = s.resolve(path, {"", traced}, w.file_offset);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].kind, FrameKind::kBinaryChanged);
    EXPECT_TRUE(f[0].function.empty());
    char expected[96];
    std::snprintf(expected, sizeof expected, "nb+%#llx [binary changed since the trace]",
                  static_cast<unsigned long long>(w.file_offset));
    EXPECT_EQ(describe(f[0]), expected);
  }
  // Same size, only the mtime differs (a rebuild that happens to keep the size): changed.
  const auto now = host::read_file_stamp(path);
  ASSERT_TRUE(now);
  host::FileStamp same_size = *now;
  same_size.mtime_ns -= 1'000'000'000;
  EXPECT_EQ(ModuleSymbolizer().resolve(path, {"", same_size}, w.file_offset)[0].kind,
            FrameKind::kBinaryChanged);
  host::FileStamp same_mtime = *now;
  same_mtime.size_bytes += 1;
  EXPECT_EQ(ModuleSymbolizer().resolve(path, {"", same_mtime}, w.file_offset)[0].kind,
            FrameKind::kBinaryChanged);
  // A copy that keeps the mtime (cp -p, rsync -a) is the same binary and still matches.
  const std::string kept = dir_.file("nb-copy");
  ASSERT_EQ(std::system(("cp -p '" + path + "' '" + kept + "'").c_str()), 0);
  EXPECT_EQ(ModuleSymbolizer().resolve(kept, {"", now}, w.file_offset)[0].kind,
            FrameKind::kSymbolOnly);
}

// An older trace recorded no stamp: a file without a build-id cannot be checked, so it is not
// read at all rather than risk a rebuilt binary's names (module_symbolizer.h says why).
TEST_F(StrippedCopies, NoBuildIdAndNoRecordedStampIsUnverified) {
  const std::string path = copy("nb", "--remove-section .note.gnu.build-id");
  const Where w = where(probe::plain_caller() - 1);
  ModuleSymbolizer s;
  const auto& f = s.resolve(path, {""}, w.file_offset);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, FrameKind::kBinaryUnverified);
  EXPECT_TRUE(f[0].function.empty());
  EXPECT_EQ(f[0].module_offset, w.file_offset);
  EXPECT_NE(describe(f[0]).find("[binary has no build-id; cannot check it is the one traced]"),
            std::string::npos)
      << describe(f[0]);
  EXPECT_EQ(kind_name(f[0].kind), "binary_unverified");
  EXPECT_EQ(kind_from_name("binary_unverified"), FrameKind::kBinaryUnverified);
  // Same path, now with a stamp: a different recorded identity, opened separately.
  EXPECT_EQ(s.resolve(path, {"", host::read_file_stamp(path)}, w.file_offset)[0].kind,
            FrameKind::kNative);
  EXPECT_EQ(s.modules_opened(), 2);
}

TEST(SymbolizeModuleSymbolizerTest, DemangleLeavesPlainNamesAlone) {
  EXPECT_EQ(demangle("_ZN3foo3barEi"), "foo::bar(int)");
  EXPECT_EQ(demangle("main"), "main");
  EXPECT_EQ(demangle("_Znot_really"), "_Znot_really");
}

}  // namespace
}  // namespace causeway::symbolize

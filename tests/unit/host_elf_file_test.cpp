// host::ElfFile: the one reader of GNU build-ids and sonames. Its build-id must equal what
// libdwelf (which the symbolizer used before) reports, for files with section headers and
// for files whose section headers are gone (the PT_NOTE segment is read instead), because a
// trace's recorded build-id is later compared with the file's.
#include "host/elf_file.h"

#include <elf.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "support/test_support.h"

namespace causeway::host {
namespace {

using causeway::testing::TempDir;

constexpr const char* kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

// The build-id as libdwelf computes it, independently of the code under test.
std::string dwelf_build_id(const std::string& path) {
  elf_version(EV_CURRENT);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr)) {
    const void* bits = nullptr;
    const ssize_t n = dwelf_elf_gnu_build_id(elf, &bits);
    char buf[3];
    for (ssize_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", static_cast<const unsigned char*>(bits)[i]);
      out += buf;
    }
    elf_end(elf);
  }
  ::close(fd);
  return out;
}

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

TEST(HostElfFile, BuildIdMatchesLibdwelf) {
  for (const std::string& path : {self_exe(), std::string(kLibc)}) {
    const std::string expected = dwelf_build_id(path);
    ASSERT_FALSE(expected.empty()) << path << " has no build-id; the test needs one";
    EXPECT_EQ(read_build_id(path), expected) << path;
    auto f = ElfFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error();
    EXPECT_EQ((*f)->build_id(), expected);
  }
}

TEST(HostElfFile, BuildIdFromSegmentsWhenSectionHeadersAreGone) {
  TempDir dir;
  const std::string copy = dir.file("noshdr");
  std::filesystem::copy_file(self_exe(), copy);
  {
    // Drop the section header table (e_shoff = 0, e_shnum = 0, e_shstrndx = 0): only the
    // program headers remain, as in a file stripped with `sstrip`.
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    Elf64_Ehdr eh;
    f.read(reinterpret_cast<char*>(&eh), sizeof eh);
    eh.e_shoff = 0;
    eh.e_shnum = 0;
    eh.e_shstrndx = 0;
    f.seekp(0);
    f.write(reinterpret_cast<const char*>(&eh), sizeof eh);
  }
  const std::string expected = dwelf_build_id(self_exe());
  EXPECT_EQ(dwelf_build_id(copy), expected);
  EXPECT_EQ(read_build_id(copy), expected);
}

TEST(HostElfFile, Soname) {
  auto libc = ElfFile::open(kLibc);
  ASSERT_TRUE(libc.ok()) << libc.error();
  EXPECT_EQ((*libc)->soname(), "libc.so.6");
  auto exe = ElfFile::open(self_exe());
  ASSERT_TRUE(exe.ok());
  EXPECT_EQ((*exe)->soname(), "");  // executables have no DT_SONAME
}

TEST(HostElfFile, BadFilesAreOneSentence) {
  TempDir dir;
  auto missing = ElfFile::open(dir.file("missing.so"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(),
            dir.file("missing.so") + " cannot be read: No such file or directory.");
  EXPECT_EQ(read_build_id(dir.file("missing.so")), "");
  const std::string text = dir.file("text.so");
  std::ofstream(text) << "not an ELF file\n";
  auto not_elf = ElfFile::open(text);
  ASSERT_FALSE(not_elf.ok());
  EXPECT_EQ(not_elf.error(), text + " is not an ELF file.");
  EXPECT_EQ(read_build_id(text), "");
}

// The stamp that stands in for a missing build-id: size and mtime to the nanosecond.
TEST(HostElfFile, FileStampIsSizeAndMtime) {
  TempDir dir;
  const std::string path = dir.file("nb");
  std::ofstream(path) << "0123456789";
  const timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 123'456'789}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  const auto stamp = read_file_stamp(path);
  ASSERT_TRUE(stamp);
  EXPECT_EQ(*stamp, (FileStamp{10, 1'700'000'000'123'456'789}));
  EXPECT_FALSE(read_file_stamp(dir.file("missing")));
  EXPECT_FALSE(read_file_stamp(dir.path()));  // not a regular file
}

}  // namespace
}  // namespace causeway::host

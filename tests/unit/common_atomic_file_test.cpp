// All-or-nothing file writes (src/common/atomic_file.cpp): the target appears only complete,
// failures are one sentence, and no temporary file is ever left behind.
#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace causeway {
namespace {

using testing::read_file;
using testing::TempDir;

// Names of the entries in `dir`, sorted.
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CommonAtomicFileTest, WritesAndReplacesWholeFiles) {
  TempDir dir;
  const std::string path = dir.file("out.html");
  ASSERT_TRUE(write_file_atomically(path, "first").ok());
  EXPECT_EQ(read_file(path), "first");
  ASSERT_TRUE(write_file_atomically(path, std::string("sec\0ond", 7)).ok());
  EXPECT_EQ(read_file(path), std::string("sec\0ond", 7));
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"out.html"});
}

TEST(CommonAtomicFileTest, TheTargetAppearsOnlyOnCommit) {
  TempDir dir;
  const std::string path = dir.file("t.json");
  {
    std::FILE* old = std::fopen(path.c_str(), "w");
    ASSERT_NE(old, nullptr);
    std::fputs("old", old);
    std::fclose(old);
  }
  auto file = AtomicFile::create(path);
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(file->temp_path(), path + ".partial-" + std::to_string(getpid()));
  std::fputs("new content", file->stream());
  std::fflush(file->stream());
  EXPECT_EQ(read_file(path), "old");  // still the old file while writing
  ASSERT_TRUE(file->commit().ok());
  EXPECT_EQ(read_file(path), "new content");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"t.json"});
}

TEST(CommonAtomicFileTest, AnAbandonedWriteLeavesNothing) {
  TempDir dir;
  const std::string path = dir.file("t.json");
  {
    auto file = AtomicFile::create(path);
    ASSERT_TRUE(file.ok()) << file.error();
    std::fputs("half of it", file->stream());
    // Destroyed without commit(): an export whose query failed half-way.
  }
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(CommonAtomicFileTest, ASymlinkedTargetReplacesTheFileItPointsTo) {
  TempDir dir;
  ASSERT_TRUE(write_file_atomically(dir.file("real.html"), "old").ok());
  ASSERT_EQ(symlink("real.html", dir.file("link.html").c_str()), 0);
  ASSERT_TRUE(write_file_atomically(dir.file("link.html"), "new").ok());
  struct stat st {};
  ASSERT_EQ(lstat(dir.file("link.html").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(read_file(dir.file("real.html")), "new");
}

TEST(CommonAtomicFileTest, AMissingDirectoryIsOneClearSentence) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/r.html");
  Status st = write_file_atomically(path, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "cannot write " + path + ": No such file or directory.");
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(CommonAtomicFileTest, AFailedRenameLeavesNoPartialFile) {
  TempDir dir;
  // A non-empty directory under the target name: the file is written, the rename fails.
  const std::string path = dir.file("taken");
  std::filesystem::create_directories(path + "/inside");
  auto file = AtomicFile::create(path);
  ASSERT_TRUE(file.ok()) << file.error();
  std::fputs("complete content", file->stream());
  Status st = file->commit();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("cannot move the finished file to " + path + ": ", 0), 0u)
      << st.message();
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"taken"});
  EXPECT_EQ(entries(path), std::vector<std::string>{"inside"});
  EXPECT_FALSE(file->commit().ok());  // a second commit is refused, not a crash
}

TEST(CommonAtomicFileTest, AWriteErrorLeavesTheOldFileAndNoPartialFile) {
  TempDir dir;
  const std::string path = dir.file("r.html");
  ASSERT_TRUE(write_file_atomically(path, "old").ok());
  // A file size limit makes writes past 4 KiB fail with EFBIG, as a full disk fails them
  // with ENOSPC; the signal the kernel sends for it is ignored so the write returns the error.
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &previous), 0);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Status st = write_file_atomically(path, std::string(1 << 20, 'x'));
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &previous, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "writing " + path + " failed: File too large.");
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"r.html"});
}

}  // namespace
}  // namespace causeway

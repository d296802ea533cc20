// All-or-nothing file writes (src/common/atomic_file.cpp): the target appears only complete,
// failures are one sentence, and no temporary file is ever left behind.
#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

// Issue 16 item 18: an interrupted write (SIGINT, SIGTERM) removes its temporary file and
// the process still ends by that signal.
TEST(CommonAtomicFileTest, AnInterruptedWriteRemovesItsPartialFile) {
  for (int sig : {SIGINT, SIGTERM}) {
    TempDir dir;
    const std::string path = dir.file("out.json");
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto file = AtomicFile::create(path);
      if (!file.ok()) _exit(3);
      std::fputs("half a file", file->stream());
      std::fflush(file->stream());
      if (write(ready[1], "x", 1) != 1) _exit(4);
      for (;;) pause();  // interrupted here, as by Ctrl-C during a long export
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    EXPECT_EQ(entries(dir.path()).size(), 1u);  // the partial file exists while writing
    kill(child, sig);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    EXPECT_TRUE(entries(dir.path()).empty()) << entries(dir.path()).front();
    close(ready[0]);
    close(ready[1]);
  }
}

// A writer killed outright (SIGKILL) leaves its partial file; the next write of the same
// target removes it, but never a partial file of a process that is still running.
TEST(CommonAtomicFileTest, StalePartialsOfDeadProcessesAreRemoved) {
  TempDir dir;
  const std::string path = dir.file("out.json");
  pid_t dead = fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string stale = path + ".partial-" + std::to_string(dead);
  const std::string live = path + ".partial-" + std::to_string(getppid());
  const std::string other = dir.file("other.json.partial-" + std::to_string(dead));
  for (const auto& f : {stale, live, other}) {
    std::FILE* out = std::fopen(f.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::fclose(out);
  }
  ASSERT_TRUE(write_file_atomically(path, "new").ok());
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(other));  // another target's: not ours to judge
  EXPECT_EQ(read_file(path), "new");
}

// Signal handlers are installed only while a file is being written, and the program's own
// handler is restored afterwards.
TEST(CommonAtomicFileTest, TheProgramsSignalHandlerIsRestored) {
  TempDir dir;
  struct sigaction mine {};
  mine.sa_handler = [](int) {};
  sigemptyset(&mine.sa_mask);
  struct sigaction saved {};
  ASSERT_EQ(sigaction(SIGTERM, &mine, &saved), 0);
  {
    auto file = AtomicFile::create(dir.file("x"));
    ASSERT_TRUE(file.ok());
    struct sigaction during {};
    sigaction(SIGTERM, nullptr, &during);
    EXPECT_NE(during.sa_handler, mine.sa_handler);
  }
  struct sigaction after {};
  sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(after.sa_handler, mine.sa_handler);
  sigaction(SIGTERM, &saved, nullptr);
}

}  // namespace
}  // namespace causeway

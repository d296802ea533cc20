// `causeway report` end to end: writes one HTML file, refuses to overwrite, rejects bad input
// with one sentence, never writes the trace.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "fixtures/scenarios.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

TEST(CliReportTest, WritesOneSelfContainedFile) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::data_loader(db, false);
  const int64_t before = mtime_ns(db);
  const std::string out = dir.file("report.html");
  CommandResult r = run_command({causeway_binary(), "report", "--db", db, "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("wrote " + out), std::string::npos) << r.err;
  const std::string html = read_file(out);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("id=\"chain-1\""), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(mtime_ns(db), before);  // the trace is never written
  EXPECT_FALSE(exists(db + "-wal"));

  // An existing file is only replaced with --force.
  CommandResult again = run_command({causeway_binary(), "report", "--db", db, "-o", out});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  CommandResult forced = run_command({causeway_binary(), "report", "--db", db, "-o", out, "--force",
                                      "--since", "10ms", "--until", "200ms"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(read_file(out).find("Report window"), std::string::npos);
}

TEST(CliReportTest, BadInputIsOneSentence) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, false);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--db", dir.file("missing.db"), "-o", dir.file("r.html")}, "does not exist"},
      {{"--db", db, "-o", dir.file("r.html"), "--since", "soon"}, "is not a time"},
      {{"--db", db, "-o", dir.file("r.html"), "--since", "2s", "--until", "1s"},
       "--until must be later than --since"},
      {{"--db", db, "-o", dir.path()}, "is a directory"},
      {{"--db", db, "-o", dir.file("nodir/r.html")}, "cannot write"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {causeway_binary(), "report"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    CommandResult r = run_command(argv);
    EXPECT_NE(r.exit_code, 0) << c.says;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // A file that is not a trace.
  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << "hello\n";
  CommandResult r =
      run_command({causeway_binary(), "report", "--db", text, "-o", dir.file("r.html")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a SQLite database"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir.file("r.html")));
}

}  // namespace
}  // namespace causeway::testing

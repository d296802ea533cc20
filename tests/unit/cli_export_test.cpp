// `causeway export` end to end: a file and stdout, windows, overwrite policy, bad input.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "export/validate.h"
#include "fixtures/scenarios.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

int lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

TEST(CliExportTest, WritesAValidTimelineFile) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::lock_wait(db, false);
  const std::string out = dir.file("trace.json");
  CommandResult r =
      run_command({causeway_binary(), "export", "--db", db, "--format", "perfetto", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("wrote "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  auto doc = nlohmann::json::parse(read_file(out));
  EXPECT_TRUE(timeline::validate_trace_events(doc).empty());
  EXPECT_GT(doc["traceEvents"].size(), 100u);
  // No temporary file is left behind.
  int files = 0;
  for (const char* name : {"trace.json"}) files += exists(dir.file(name)) ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(CliExportTest, StdoutAndWindowFlags) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, false);
  CommandResult all = run_command({causeway_binary(), "export", "--db", db, "-o", "-"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto full = nlohmann::json::parse(all.out);
  CommandResult win = run_command({causeway_binary(), "export", "--db", db, "-o", "-", "--since",
                                   "50ms", "--until", "0.1s", "--pid", "400"});
  ASSERT_EQ(win.exit_code, 0) << win.err;
  auto part = nlohmann::json::parse(win.out);
  EXPECT_TRUE(timeline::validate_trace_events(part).empty());
  EXPECT_LT(part["traceEvents"].size(), full["traceEvents"].size());
  for (const auto& e : part["traceEvents"]) {
    EXPECT_EQ(e["pid"], 400);
    if (e["ph"] == "X") {
      EXPECT_LT(e["ts"].get<double>(), 100'000.0);
      EXPECT_GE(e["ts"].get<double>() + e["dur"].get<double>(), 50'000.0);
    }
  }
  // Bare numbers are ns, like every ts in the database.
  CommandResult ns = run_command({causeway_binary(), "export", "--db", db, "-o", "-", "--since",
                                  "50000000", "--until", "100000000", "--pid", "400"});
  ASSERT_EQ(ns.exit_code, 0) << ns.err;
  EXPECT_EQ(ns.out, win.out);
  // Another pid: nothing of pid 400.
  CommandResult other =
      run_command({causeway_binary(), "export", "--db", db, "-o", "-", "--pid", "12345"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_TRUE(nlohmann::json::parse(other.out)["traceEvents"].empty());
}

TEST(CliExportTest, ExistingOutputNeedsForce) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, true);
  const std::string out = dir.file("out.json");
  std::ofstream(out) << "keep me";
  CommandResult r = run_command({causeway_binary(), "export", "--db", db, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(out), "keep me");
  r = run_command({causeway_binary(), "export", "--db", db, "-o", out, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW(nlohmann::json::parse(read_file(out)));
}

TEST(CliExportTest, BadInputIsOneSentence) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::host_sync(db, true);
  std::ofstream(dir.file("x.db")) << "SQLite format 3 but not really\n";
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"--db", dir.file("nope.db"), "-o", dir.file("a.json")}, "nope.db"},
      {{"--db", dir.file("x.db"), "-o", dir.file("a.json")}, "x.db"},
      {{"--db", db, "-o", dir.file("a.json"), "--since", "soon"}, "--since 'soon' is not a time"},
      {{"--db", db, "-o", dir.file("a.json"), "--until", "5parsecs"}, "--until"},
      {{"--db", db, "-o", dir.file("a.json"), "--since", "2s", "--until", "1s"}, "later"},
      {{"--db", db, "-o", dir.file("missing/dir/a.json")}, "cannot write"},
      {{"--db", db, "-o", dir.path()}, "is a directory"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {causeway_binary(), "export"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    CommandResult r = run_command(argv);
    SCOPED_TRACE(c.needle);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    EXPECT_EQ(r.err.rfind("causeway export: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(exists(dir.file("a.json")));
  CommandResult fmt =
      run_command({causeway_binary(), "export", "--db", db, "-o", "-", "--format", "pprof"});
  EXPECT_NE(fmt.exit_code, 0);
}

TEST(CliExportTest, DevicesAreWrittenInPlaceAndWriteErrorsReported) {
  struct stat st {};
  if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::data_loader(db, false);
  // An existing device is written into (no --force needed), never renamed over.
  CommandResult r = run_command({causeway_binary(), "export", "--db", db, "-o", "/dev/full"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  ASSERT_EQ(stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  r = run_command({causeway_binary(), "export", "--db", db, "-o", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace causeway::testing

// `causeway check`: facts, verdict, exit codes, and clear errors for bad arguments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace causeway::testing {
namespace {

TEST(CliCheckTest, JsonReportHasEveryCheckAndAVerdictConsistentWithExitCode) {
  CommandResult r = run_command({causeway_binary(), "check", "--json"});
  auto report = nlohmann::json::parse(r.out);
  std::set<std::string> items;
  for (const auto& c : report["checks"]) items.insert(c["item"].get<std::string>());
  for (const char* want : {"kernel", "BTF", "capabilities", "bpf()", "uprobes", "tracefs"}) {
    EXPECT_TRUE(items.count(want)) << want;
  }
  EXPECT_FALSE(report["verdict"].get<std::string>().empty());
  EXPECT_EQ(r.exit_code, report["ready"].get<bool>() ? 0 : 1);
}

TEST(CliCheckTest, HumanReportEndsWithOneLineVerdict) {
  CommandResult r = run_command({causeway_binary(), "check"});
  ASSERT_FALSE(r.out.empty());
  std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(last.rfind("verdict: ", 0), 0u) << r.out;
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1);
}

TEST(CliCheckTest, RealCudaRuntimeIsFoundWithItsVersionAndSymbols) {
  CAUSEWAY_REQUIRE_CUDA_TOOLKIT();
  std::string cudart = causeway::testing::cuda_home() + "/lib64/libcudart.so.13";
  CommandResult r = run_command({causeway_binary(), "check", "--json", "--cudart", cudart});
  auto report = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& lib : report["libraries"]) {
    if (lib["kind"] != "runtime") continue;
    found = true;
    EXPECT_EQ(lib["soname"], "libcudart.so.13");
    EXPECT_EQ(lib["version"].get<std::string>().rfind("13.", 0), 0u) << lib.dump();
    EXPECT_FALSE(lib["symbols_resolved"].empty());
    EXPECT_EQ(lib["build_id"].get<std::string>().size(), 40u);
  }
  EXPECT_TRUE(found) << r.out;
}

TEST(CliCheckTest, MissingLibraryPathIsOneSentenceAndExit2) {
  CommandResult r =
      run_command({causeway_binary(), "check", "--cudart", "/nonexistent/libcudart.so"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such library file"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliCheckTest, NonElfLibraryIsRejected) {
  TempDir dir;
  std::ofstream(dir.file("libcudart.so.13")) << "not an ELF file\n";
  CommandResult r =
      run_command({causeway_binary(), "check", "--cudart", dir.file("libcudart.so.13")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not an ELF shared library"), std::string::npos) << r.err;
}

TEST(CliCheckTest, UnprivilegedUserGetsCannotTraceAndTheFix) {
  std::vector<std::string> argv = {causeway_binary(), "check"};
  if (geteuid() == 0) {
    if (access("/usr/sbin/runuser", X_OK) != 0) GTEST_SKIP() << "runuser not available";
    argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "nobody", "--"});
  }
  CommandResult r = run_command(argv);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: cannot trace: run as root"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace causeway::testing

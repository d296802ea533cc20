// The CLI's dispatch and error handling: help for every command, unknown commands and flags.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "support/golden.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

std::vector<std::string> listed_commands() {
  CommandResult r = run_command({causeway_binary(), "--help"});
  std::vector<std::string> names;
  std::istringstream lines(r.out);
  std::string line;
  bool in_list = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    std::smatch m;
    if (in_list && std::regex_match(line, m, std::regex(R"(  ([a-z-]+)\s+.*)"))) {
      names.push_back(m[1]);
    } else if (in_list && line.empty()) {
      in_list = false;
    }
  }
  return names;
}

TEST(CliMainTest, HelpListsCommandsAndMatchesGolden) {
  CommandResult r = run_command({causeway_binary(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("check"), std::string::npos);
  std::string diff = check_golden("cli/help.txt", r.out);
  EXPECT_TRUE(diff.empty()) << diff;
}

TEST(CliMainTest, EveryCommandHasHelpMatchingGolden) {
  auto names = listed_commands();
  ASSERT_FALSE(names.empty());
  for (const auto& name : names) {
    CommandResult r = run_command({causeway_binary(), name, "--help"});
    EXPECT_EQ(r.exit_code, 0) << name;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << name;
    std::string diff = check_golden("cli/" + name + "-help.txt", r.out);
    EXPECT_TRUE(diff.empty()) << diff;
  }
}

TEST(CliMainTest, VersionFlag) {
  CommandResult r = run_command({causeway_binary(), "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(causeway \d+\.\d+\.\d+)"))) << r.out;
}

TEST(CliMainTest, UnknownCommandIsOneClearSentence) {
  CommandResult r = run_command({causeway_binary(), "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find("causeway: unknown command 'frobnicate'"), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliMainTest, UnknownFlagNamesTheCommandsHelp) {
  CommandResult r = run_command({causeway_binary(), "check", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("causeway check --help"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(CliMainTest, NoCommandAsksForOne) {
  CommandResult r = run_command({causeway_binary()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("causeway --help"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace causeway::testing

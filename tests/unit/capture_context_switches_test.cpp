#include "capture/context_switches.h"

#include <gtest/gtest.h>

namespace causeway::capture {
namespace {

TEST(ContextSwitches, ReadsTheCtxtLineOfProcStat) {
  const char* text =
      "cpu  10 0 20 300 0 0 0 0 0 0\n"
      "cpu0 5 0 10 150 0 0 0 0 0 0\n"
      "intr 1234 0 0\n"
      "ctxt 41367437\n"
      "btime 1796600000\n"
      "processes 9000\n";
  EXPECT_EQ(parse_context_switches(text), 41367437);
}

TEST(ContextSwitches, AnAbsentOrMalformedLineIsUnknown) {
  EXPECT_EQ(parse_context_switches(""), std::nullopt);
  EXPECT_EQ(parse_context_switches("cpu 1 2 3\nintr 5\n"), std::nullopt);
  EXPECT_EQ(parse_context_switches("ctxt \n"), std::nullopt);
  EXPECT_EQ(parse_context_switches("ctxt -4\n"), std::nullopt);
  EXPECT_EQ(parse_context_switches("ctxt many\n"), std::nullopt);
  // A longer key that starts the same is not the line.
  EXPECT_EQ(parse_context_switches("ctxtx 7\n"), std::nullopt);
  // The last line needs no newline.
  EXPECT_EQ(parse_context_switches("intr 5\nctxt 12"), 12);
}

TEST(ContextSwitches, ThisMachineHasACount) {
  // /proc/stat exists wherever causeway runs (Linux); the count only grows.
  const auto first = read_context_switches();
  ASSERT_TRUE(first.has_value());
  const auto second = read_context_switches();
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(*second, *first);
}

TEST(ContextSwitches, UnreportedIsTheMachinesDifferenceLessWhatWasSeen) {
  EXPECT_EQ(unreported_switches(1000, 1600, 594), 6);
  EXPECT_EQ(unreported_switches(1000, 1600, 600), 0);
  // More seen than the machine's difference (switches between the reads): none unreported.
  EXPECT_EQ(unreported_switches(1000, 1600, 603), 0);
  EXPECT_EQ(unreported_switches(std::nullopt, 1600, 5), std::nullopt);
  EXPECT_EQ(unreported_switches(1000, std::nullopt, 5), std::nullopt);
  // A count that went backwards is not a machine's switch counter.
  EXPECT_EQ(unreported_switches(1600, 1000, 5), std::nullopt);
}

}  // namespace
}  // namespace causeway::capture

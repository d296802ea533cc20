// End to end: trace each simulated pathology with the real tracer, then check that
// `causeway explain` names the right cause (category, culprit) as its top chain, and that a
// healthy run of the same workload raises no high-severity chain of that category.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.h"

namespace causeway::testing {
namespace {

struct Scenario {
  const char* binary;
  const char* category;      // expected top chain category
  const char* culprit_comm;  // expected culprit thread name prefix, or nullptr
};

// Readable test parameter in ctest's listing.
void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.binary;
}

nlohmann::json trace_and_explain(const Scenario& s, bool healthy, const TempDir& dir) {
  std::string db = dir.file(std::string(s.binary) + (healthy ? "-healthy" : "") + ".db");
  std::vector<std::string> argv = {
      causeway_binary(), "trace", "--db", db, "--", build_path(std::string("sim/") + s.binary),
      "--duration-ms",   "1500"};
  if (healthy) argv.push_back("--healthy");
  CommandResult traced = run_command(argv);
  EXPECT_EQ(traced.exit_code, 0) << traced.err;
  EXPECT_EQ(verify_trace(db), "") << db;
  CommandResult explained = run_command({causeway_binary(), "explain", "--db", db, "--json"});
  EXPECT_EQ(explained.exit_code, 0) << explained.err;
  auto parsed = nlohmann::json::parse(explained.out, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << explained.out;
  return parsed.is_discarded() ? nlohmann::json::object() : parsed;
}

class AnalyzeScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(AnalyzeScenarioTest, TopChainNamesTheCauseAndTheHealthyRunRaisesNoAlarm) {
  CAUSEWAY_REQUIRE_BPF();
  const Scenario& s = GetParam();
  TempDir dir;
  auto sick = trace_and_explain(s, false, dir);
  ASSERT_TRUE(sick.contains("chains") && !sick["chains"].empty()) << sick.dump(1);
  const auto& top = sick["chains"][0];
  std::string category = top.value("category", "");
  EXPECT_EQ(category, s.category) << top.dump(1);
  EXPECT_NE(top["severity"], "low") << top.dump(1);
  if (s.culprit_comm != nullptr) {
    std::string comm = top["culprit"].value("comm", "");
    EXPECT_EQ(comm.rfind(s.culprit_comm, 0), 0u) << top.dump(1);
  }
  EXPECT_FALSE(top["evidence"].empty());

  auto healthy = trace_and_explain(s, true, dir);
  for (const auto& chain : healthy.value("chains", nlohmann::json::array())) {
    EXPECT_FALSE(chain["category"] == s.category && chain["severity"] == "high")
        << "false alarm on the healthy run: " << chain.dump(1);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, AnalyzeScenarioTest,
    ::testing::Values(Scenario{"scenario_noisy_neighbor", "cpu_contention", "backup"},
                      Scenario{"scenario_dataloader", "data_loader", "loader-"},
                      Scenario{"scenario_host_sync", "host_sync", nullptr},
                      Scenario{"scenario_alloc_churn", "allocator_churn", nullptr}),
    [](const ::testing::TestParamInfo<Scenario>& info) {
      std::string name = info.param.binary;
      return name.substr(name.find('_') + 1);
    });

}  // namespace
}  // namespace causeway::testing

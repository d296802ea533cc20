// cpu_contention (src/analyze/detect_cpu_contention.cpp): runnable time named for the task that
// held the CPU (from cpu_slice), not the one that switched in first; idle time names nobody.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectCpuContentionTest, NoisyNeighbourIsCpuContentionByTheNeighbourOnItsCpu) {
  TempDir dir;
  scenarios::noisy_neighbour(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "cpu_contention") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "burner");
  EXPECT_EQ(top.culprit->pid, 200);
  EXPECT_EQ(top.subject.tid, 100);
  ASSERT_FALSE(top.preempters.empty());
  EXPECT_EQ(top.preempters[0].cpu, 0);
  // 160 slowed steps x 1.2 ms runnable, measured exactly.
  EXPECT_EQ(top.runnable_ns, 160 * 1200 * kUs);
  EXPECT_EQ(top.impact_ns, 160 * 1200 * kUs);
  EXPECT_TRUE(cites(top, "thread_state"));
  EXPECT_NE(top.recommendation.find("burner"), std::string::npos);
  EXPECT_EQ(top.id, 1);
}

TEST(AnalyzeDetectCpuContentionTest, HealthyNeighbourRunRaisesNoHighChain) {
  TempDir dir;
  scenarios::noisy_neighbour(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "cpu_contention"), nullptr) << dump(v);
}

// The case 1: the helper that switched in when train left the CPU ran 0.2 ms per
// step; the nice -10 spinner held CPU 0 for the rest of every runnable interval, including
// the runnable time after wakeups. The spinner is the culprit, with its exact share.
TEST(AnalyzeDetectCpuContentionTest, CpuContentionNamesWhoHeldTheCpuNotWhoSwitchedIn) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::spinner_behind_helper(path);
  auto v = chains_of(path);
  const Chain* c = find(v, "cpu_contention");
  ASSERT_NE(c, nullptr) << dump(v);
  ASSERT_TRUE(c->culprit) << dump(v);
  EXPECT_EQ(c->culprit->comm, "spinner");
  EXPECT_EQ(c->culprit->pid, 1200);
  const int64_t runnable =
      query_int(path,
                "SELECT sum(s.dur) FROM thread_state s JOIN thread t USING (utid) WHERE t.tid = "
                "1100 AND s.state = 1 AND s.ts >= (SELECT min(ts) FROM cuda_call)");
  const int64_t spinner = query_int(
      path,
      "SELECT sum(min(s.ts + s.dur, c.ts + c.dur) - max(s.ts, c.ts)) FROM thread_state s "
      "JOIN thread t USING (utid) JOIN cpu_slice c ON c.cpu = s.cpu AND c.ts < s.ts + s.dur AND "
      "c.ts + c.dur > s.ts JOIN thread h ON h.utid = c.utid WHERE t.tid = 1100 AND s.state = 1 "
      "AND h.tid = 1200 AND s.ts >= (SELECT min(ts) FROM cuda_call)");
  EXPECT_EQ(c->impact_ns, runnable);
  ASSERT_FALSE(c->preempters.empty());
  EXPECT_EQ(c->preempters[0].task.comm, "spinner");
  EXPECT_EQ(c->preempters[0].holder, "task");
  EXPECT_EQ(c->preempters[0].ns, spinner);
  EXPECT_EQ(c->preempters[0].cpu, 0);
  EXPECT_NE(c->summary.find("\"spinner\""), std::string::npos) << c->summary;
  EXPECT_NE(c->recommendation.find("spinner"), std::string::npos);
  EXPECT_EQ(c->recommendation.find("helper"), std::string::npos) << c->recommendation;
  EXPECT_TRUE(cites(*c, "cpu_slice"));
  for (const Chain& x : v) {
    if (x.culprit) {
      EXPECT_NE(x.culprit->comm, "helper") << x.category;
    }
  }
}

TEST(AnalyzeDetectCpuContentionTest, CompetitorFromTheCpuTimelineTracedOrNotAndIdleNamesNobody) {
  for (int mode : {0, 1, 2}) {
    SCOPED_TRACE(mode);
    TempDir dir;
    const std::string path = dir.file("t.db");
    scenarios::contended_by(path, mode);
    auto v = chains_of(path);
    const Chain* c = find(v, "cpu_contention");
    ASSERT_NE(c, nullptr) << dump(v);
    // The first step's runnable interval comes before the first CUDA call: outside the span.
    const std::string in_span = " AND s.ts >= (SELECT min(ts) FROM cuda_call)";
    EXPECT_EQ(c->impact_ns, query_int(path,
                                      "SELECT sum(s.dur) FROM thread_state s JOIN thread t "
                                      "USING (utid) WHERE t.tid = 1800 AND s.state = 1" +
                                          in_span));
    EXPECT_EQ(c->impact_ns, 79 * 2 * kMs);
    const int64_t held = query_int(
        path,
        "SELECT sum(min(s.ts + s.dur, c.ts + c.dur) - max(s.ts, c.ts)) FROM thread_state s "
        "JOIN thread t USING (utid) JOIN cpu_slice c ON c.cpu = s.cpu AND c.ts < s.ts + s.dur "
        "AND c.ts + c.dur > s.ts WHERE t.tid = 1800 AND s.state = 1" +
            in_span + " AND " +
            std::string(mode == 2 ? "c.utid IS NULL"
                                  : "c.utid = (SELECT utid FROM thread WHERE tid = 1900)"));
    EXPECT_EQ(held, 79 * 1900 * kUs);
    ASSERT_FALSE(c->preempters.empty());
    EXPECT_EQ(c->preempters[0].ns, held);
    if (mode == 2) {
      EXPECT_FALSE(c->culprit) << dump(v);
      EXPECT_EQ(c->preempters[0].holder, "idle");
      EXPECT_NE(c->recommendation.find("throttling"), std::string::npos) << c->recommendation;
      EXPECT_EQ(c->recommendation.find("kworker"), std::string::npos) << c->recommendation;
    } else {
      ASSERT_TRUE(c->culprit) << dump(v);
      EXPECT_EQ(c->culprit->pid, 1900);
      EXPECT_EQ(c->culprit->comm, mode == 1 ? "other-job" : "cc1plus");
    }
  }
}

}  // namespace
}  // namespace causeway::testing

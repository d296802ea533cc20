// gil_wait (src/analyze/detect_gil_wait.cpp): a Python thread waiting for the GIL is named for
// the thread that held it and the line it ran, not a lock, a timeout or a data loader.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

// A Python thread that drives the GPU and waits for the GIL: gil_wait, naming the thread that
// held the GIL and the Python line it was running, not a lock, a timeout or a data loader.
TEST(AnalyzeDetectGilWaitTest, PythonGilWaitNamesTheHolderAndItsLine) {
  TempDir dir;
  scenarios::python_gil(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "gil_wait") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "gil-hog-0");
  EXPECT_EQ(top.subject.tid, 1300);
  // 79 rounds of a timed-out wait (5.0-5.2 ms) and a signalled one (150 us); the first round's
  // wait is before the first CUDA call.
  int64_t expected = 0;
  for (int step = 0; step < 79; ++step) expected += 5 * kMs + (step % 3) * 100 * kUs + 150 * kUs;
  EXPECT_EQ(top.impact_ns, expected) << dump(v);
  EXPECT_NE(top.summary.find("hog at /srv/gil_contention.py:43"), std::string::npos) << top.summary;
  EXPECT_NE(top.recommendation.find("GIL"), std::string::npos) << top.recommendation;
  EXPECT_TRUE(cites(top, "syscall")) << dump(v);
  bool holder_stack = false;
  for (const auto& e : top.evidence) holder_stack = holder_stack || e.role.find("GIL holder") == 0;
  EXPECT_TRUE(holder_stack) << dump(v);
  for (const char* not_it : {"lock_wait", "blocked_wait", "data_loader"}) {
    const Chain* c = find(v, not_it);
    EXPECT_TRUE(c == nullptr || c->severity == "low") << dump(v);
  }
}

TEST(AnalyzeDetectGilWaitTest, HealthyPythonRaisesNoGilWait) {
  TempDir dir;
  scenarios::python_gil(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "gil_wait"), nullptr) << dump(v);
}

}  // namespace
}  // namespace causeway::testing

// allocator_churn (src/analyze/detect_allocator_churn.cpp): device allocations every step.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectAllocatorChurnTest, MallocFreeEveryStepIsAllocatorChurn) {
  TempDir dir;
  scenarios::allocator_churn(dir.file("t.db"), false);
  const std::string path = dir.file("t.db");
  auto v = chains_of(path);
  const Chain* churn = find(v, "allocator_churn");
  ASSERT_NE(churn, nullptr) << dump(v);
  const Chain& top = *churn;
  EXPECT_GT(top.gpu_wait_ns, 0);  // cudaFree synchronizes
  EXPECT_NE(top.explanation.find("64.0 MiB"), std::string::npos) << top.explanation;
  // The impact is the allocator's own cost: the time inside the hot-loop calls (after the
  // first tenth of the span) minus what the frees spent waiting for the GPU (the sim-gpu
  // wakeups inside them), from the raw rows.
  const std::string span =
      "(SELECT min(ts) AS lo, max(ts + dur) AS hi FROM cuda_call WHERE utid = "
      "(SELECT utid FROM thread WHERE tid = 500))";
  const std::string hot =
      "SELECT c.ts, c.dur FROM cuda_call c JOIN string f ON f.id = c.function_id, " + span +
      " WHERE f.str IN ('cudaMalloc', 'cudaFree') AND c.ts >= lo + (hi - lo) / 10";
  const int64_t in_calls = query_int(path, "SELECT sum(dur) FROM (" + hot + ")");
  const int64_t gpu_wait = query_int(
      path, "SELECT sum(s.dur) FROM thread_state s JOIN thread w ON w.utid = s.waker_utid, (" +
                hot + ") h WHERE w.name = 'sim-gpu' AND s.ts >= h.ts AND s.ts < h.ts + h.dur");
  ASSERT_GT(gpu_wait, 0);
  EXPECT_EQ(top.impact_ns, in_calls - gpu_wait);
  EXPECT_EQ(top.gpu_wait_ns, gpu_wait);
}

TEST(AnalyzeDetectAllocatorChurnTest, HealthyAllocationOnceRaisesNothing) {
  TempDir dir;
  scenarios::allocator_churn(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "allocator_churn"), nullptr) << dump(v);
}

}  // namespace
}  // namespace causeway::testing

// host_sync (src/analyze/detect_host_sync.cpp): every step ends in a device-to-host readback.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectHostSyncTest, PerStepDeviceToHostCopyIsHostSync) {
  TempDir dir;
  scenarios::host_sync(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  const Chain* c = find(v, "host_sync");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->id, 1) << dump(v);
  EXPECT_EQ(c->severity, "high");
  EXPECT_EQ(c->occurrences, 150);
  EXPECT_EQ(c->subject.comm, "decode");
  EXPECT_NE(c->summary.find("cudaMemcpy (DtoH) + cudaStreamSynchronize"), std::string::npos)
      << c->summary;
  // 149 step pairs, each losing min(GPU idle 0.8 ms until the next launch, GPU wait 1.5 ms).
  EXPECT_EQ(c->impact_ns, 149 * 800 * kUs);
  EXPECT_GT(c->gpu_wait_ns, 0);
  EXPECT_TRUE(cites(*c, "cuda_call"));
}

TEST(AnalyzeDetectHostSyncTest, HealthyDecodeLoopRaisesNoHostSync) {
  TempDir dir;
  scenarios::host_sync(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "host_sync"), nullptr) << dump(v);
}

}  // namespace
}  // namespace causeway::testing

// blocked_io (src/analyze/detect_blocked_io.cpp): the thread that feeds the GPU blocked on its
// own I/O (reads that wait for the disk) is blocked_io, the thread itself the culprit, the
// device named; a little I/O is not a finding.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

// "decode" reads its next sample itself every step: `read_ms` of pread64 waiting for the disk
// (uninterruptible, with a block_io row on 8:0), then 1 ms of CPU and the step's CUDA calls.
void reads_every_step(const std::string& path, int64_t read_us) {
  TraceBuilder b(path);
  Timeline& t = scenarios::gpu_process(b, 1400, "server", "decode");
  t.at(1 * kMs);
  for (int step = 0; step < 60; ++step) {
    t.disk(read_us * kUs, "pread64", 128 << 10);
    t.run(1 * kMs);
    scenarios::launches(t, 2);
    scenarios::sync(t, 500 * kUs);
  }
}

TEST(AnalyzeDetectBlockedIoTest, ReadsOnTheFeedingThreadAreBlockedIoOnItsDevice) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  reads_every_step(path, 2000);
  auto v = chains_of(path);
  const Chain* c = find(v, "blocked_io");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c, &v.front()) << dump(v);
  EXPECT_EQ(c->severity, "high") << dump(v);
  ASSERT_TRUE(c->culprit);
  EXPECT_EQ(c->culprit->tid, 1400);
  // The reads inside the active span (from the first CUDA call on): all but the first.
  const int64_t expected =
      query_int(path,
                "SELECT sum(dur) FROM thread_state WHERE state = 3 AND ts >= (SELECT min(ts) FROM "
                "cuda_call)");
  EXPECT_EQ(c->impact_ns, expected);
  EXPECT_EQ(c->occurrences, 59);
  EXPECT_NE(c->summary.find("device 8:0"), std::string::npos) << c->summary;
  EXPECT_TRUE(cites(*c, "block_io")) << dump(v);
  EXPECT_TRUE(cites(*c, "syscall")) << dump(v);
  EXPECT_NE(c->recommendation.find("I/O"), std::string::npos) << c->recommendation;
}

TEST(AnalyzeDetectBlockedIoTest, ALittleIoIsNotAFinding) {
  TempDir dir;
  reads_every_step(dir.file("t.db"), 20);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_EQ(find(v, "blocked_io"), nullptr) << dump(v);
  expect_no_high(v);
}

}  // namespace
}  // namespace causeway::testing

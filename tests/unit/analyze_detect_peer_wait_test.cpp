// peer_wait (src/analyze/detect_peer_wait.cpp): a thread whose waits are ended by a thread of
// another traced process is waiting for a peer, not for a data loader; the chain follows into
// the peer. Ground truth from SQL over the raw rows.
#include <gtest/gtest.h>

#include "analyze/chains.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

// Two ranks exchanging data through a pipe every step: rank0's waits are ended by rank1, a
// thread of another traced process. Not a data loader: peer_wait, followed into rank1.
TEST(AnalyzeDetectPeerWaitTest, PeerRankRunnableBehindASpinnerIsPeerWaitNamingTheSpinner) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::peer_ranks(path, false);
  auto v = chains_of(path);
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
  const Chain* c = find(v, "peer_wait");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->subject.tid, 1300);
  ASSERT_TRUE(c->culprit) << dump(v);
  EXPECT_EQ(c->culprit->comm, "spinner");
  EXPECT_EQ(c->culprit->pid, 1500);
  // Every read of rank0 that rank1 ended, inside rank0's active span, from the raw rows.
  const int64_t waited =
      query_int(path,
                "SELECT sum(s.dur) FROM thread_state s JOIN thread t USING (utid) JOIN thread w ON "
                "w.utid = s.waker_utid WHERE t.tid = 1300 AND w.tid = 1400 AND s.state = 2");
  EXPECT_EQ(c->impact_ns, waited);
  EXPECT_EQ(c->occurrences, 80);
  EXPECT_NE(c->summary.find("\"rank1\" (pid 1400)"), std::string::npos) << c->summary;
  EXPECT_NE(c->summary.find("runnable behind \"spinner\" (pid 1500)"), std::string::npos)
      << c->summary;
  // rank1 was runnable 4 ms of each 4.7 ms wait: 85%.
  EXPECT_NE(c->summary.find("for 85% of those waits"), std::string::npos) << c->summary;
  EXPECT_EQ(c->summary.find("data loader"), std::string::npos);
  EXPECT_EQ(c->explanation.find("data loader that"), std::string::npos);
  EXPECT_TRUE(cites(*c, "cpu_slice"));
}

TEST(AnalyzeDetectPeerWaitTest, PeerRankBusyWithItsOwnWorkIsTheCulprit) {
  TempDir dir;
  scenarios::peer_ranks(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
  const Chain* c = find(v, "peer_wait");
  ASSERT_NE(c, nullptr) << dump(v);
  ASSERT_TRUE(c->culprit);
  EXPECT_EQ(c->culprit->comm, "rank1");
  EXPECT_EQ(c->culprit->pid, 1400);
  EXPECT_NE(c->summary.find("busy on CPU"), std::string::npos) << c->summary;
}

// Most waits are ended by the thread's own loader, a few by a peer process: a data loader,
// and the peer is never counted among its producers.
// Over the waits the peer was on its GPU, as the waiting rank is every step too; it was late
// because it waited for a CPU earlier in its step: the spinner is named, not the peer.
TEST(AnalyzeDetectPeerWaitTest, APeerLateToItsGpuWorkNamesWhatHeldItsCpuBefore) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::peer_ranks_gpu(path, true);
  auto v = chains_of(path);
  const Chain* c = find(v, "peer_wait");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->subject.tid, 1300);
  ASSERT_TRUE(c->culprit) << dump(v);
  EXPECT_EQ(c->culprit->comm, "spinner");
  EXPECT_NE(c->summary.find("waiting for its GPU"), std::string::npos) << c->summary;
  EXPECT_NE(c->summary.find("runnable"), std::string::npos) << c->summary;

  scenarios::peer_ranks_gpu(dir.file("healthy.db"), false);
  v = chains_of(dir.file("healthy.db"));
  EXPECT_EQ(find(v, "peer_wait"), nullptr) << dump(v);
  expect_no_high(v);
}

TEST(AnalyzeDetectPeerWaitTest, APeerEndingAMinorityOfWaitsIsNotALoader) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    TraceBuilder b(path);
    Timeline& t = scenarios::gpu_process(b, 2000, "python", "train");
    Timeline& loader = b.thread(2000, 2010, "loader", 2);
    b.process(2100, "python");
    Timeline& peer = b.thread(2100, 2100, "rank1", 3);
    t.at(1 * kMs);
    for (int step = 0; step < 60; ++step) {
      t.run(100 * kUs);
      scenarios::launches(t, 2);
      loader.at(t.now());
      loader.run(3 * kMs);
      t.sleep(3 * kMs, "futex", 2000, 2010);
      if (step % 4 == 0) {
        peer.at(t.now());
        peer.run(1 * kMs);
        t.sleep(1 * kMs, "read", 2100, 2100);
      }
      t.quick("cudaMemcpyAsync", 30 * kUs, CallOpts().with_bytes(1 << 20).with_kind(1));
      scenarios::sync(t, 1 * kMs);
    }
  }
  auto v = chains_of(path);
  EXPECT_EQ(find(v, "peer_wait"), nullptr) << dump(v);
  const Chain* c = find(v, "data_loader");
  ASSERT_NE(c, nullptr) << dump(v);
  ASSERT_TRUE(c->culprit);
  EXPECT_EQ(c->culprit->comm, "loader");
  EXPECT_EQ(c->explanation.find("rank1"), std::string::npos) << c->explanation;
  // Its impact is the waits the loader ended, not the peer's.
  EXPECT_EQ(c->impact_ns,
            query_int(path,
                      "SELECT sum(s.dur) FROM thread_state s JOIN thread t USING (utid) JOIN "
                      "thread w ON w.utid = s.waker_utid WHERE t.tid = 2000 AND w.tid = 2010"));
  EXPECT_EQ(c->impact_ns, 60 * 3 * kMs);
  for (const Chain& x : v) {
    if (x.culprit) {
      EXPECT_NE(x.culprit->pid, 2100) << x.category;
    }
  }
}

}  // namespace
}  // namespace causeway::testing

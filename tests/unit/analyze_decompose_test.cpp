// Interval decomposition and waker chains on hand-built timelines: exact accounting, the
// recursion limit, cycles, threads that exit mid-interval, nested runtime/driver calls.
#include <gtest/gtest.h>

#include "analyze/chains.h"
#include "analyze/decompose.h"
#include "analyze/trace_data.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using namespace analyze;

struct Loaded {
  std::unique_ptr<store::Reader> reader;
  TraceData data;
  int32_t thread(int32_t tid) const {
    for (size_t i = 0; i < data.threads.size(); ++i) {
      if (data.threads[i].tid == tid) return static_cast<int32_t>(i);
    }
    return -1;
  }
};

Loaded load(const std::string& path) {
  Loaded l;
  auto r = store::Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error();
  l.reader = std::move(*r);
  auto d = TraceData::load(l.reader->db(), {});
  EXPECT_TRUE(d.ok()) << d.error();
  l.data = std::move(*d);
  return l;
}

TEST(AnalyzeDecomposeTest, EveryNanosecondLandsInOneBucket) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(1, "app");
    b.process(2, "other", false);
    b.thread(2, 2, "other", 0, false);
    Timeline& t = b.thread(1, 1, "main", 3);
    t.run(1 * kMs);
    t.runnable(2 * kMs, 2, 2);
    t.sleep(3 * kMs, "futex", 2, 2);
    t.disk(4 * kMs, "read", 8192);
    t.run(1 * kMs);
  }
  Loaded l = load(dir.file("t.db"));
  // Clip 0.5 ms off each end: [0.5, 10.5) ms.
  Decomposition d = decompose(l.data, l.thread(1), 500 * kUs, 10'500 * kUs, false);
  EXPECT_EQ(d.total_ns, 10 * kMs);
  EXPECT_EQ(d.on_cpu_ns, 1 * kMs);
  EXPECT_EQ(d.runnable_ns, 2 * kMs);
  EXPECT_EQ(d.blocked_ns, 7 * kMs);
  EXPECT_EQ(d.gpu_wait_ns, 0);
  EXPECT_EQ(d.unaccounted_ns, 0);
  EXPECT_EQ(d.on_cpu_ns + d.runnable_ns + d.blocked_ns + d.gpu_wait_ns + d.unaccounted_ns,
            d.total_ns);
  EXPECT_EQ(d.blocked_by(BlockCause::kLock), 3 * kMs);
  EXPECT_EQ(d.blocked_by(BlockCause::kIo), 4 * kMs);
  ASSERT_EQ(d.preempters.size(), 1u);
  EXPECT_EQ(d.preempters[0].cpu, 3);
  ASSERT_EQ(d.blocked.size(), 2u);
  EXPECT_EQ(d.blocked[0].reason, "read");
  EXPECT_EQ(device_name(d.blocked[0].dev), "8:0");
}

TEST(AnalyzeDecomposeTest, GpuWakeupsInsideACallAreGpuWait) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    Timeline& t = scenarios::gpu_process(b, 10, "app", "main");
    scenarios::sync(t, 2 * kMs);
  }
  Loaded l = load(dir.file("t.db"));
  Decomposition d = decompose(l.data, l.thread(10), 0, 2010 * kUs, true);
  EXPECT_EQ(d.gpu_wait_ns, 2 * kMs);
  EXPECT_EQ(d.blocked_ns, 0);
}

// A waits on B, B on C, C on D, D on E, E reads the disk: the chain stops after 3 hops.
TEST(AnalyzeDecomposeTest, WakerChainRecursesToDepthThree) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(20, "app");
    Timeline& a = b.thread(20, 20, "A");
    Timeline& bb = b.thread(20, 21, "B", 1);
    Timeline& c = b.thread(20, 22, "C", 2);
    Timeline& d = b.thread(20, 23, "D", 3);
    Timeline& e = b.thread(20, 24, "E", 4);
    e.disk(10 * kMs, "pread64", 4096);
    e.run(100 * kUs);
    d.sleep(e.now(), "futex", 20, 24);
    d.run(100 * kUs);
    c.sleep(d.now(), "futex", 20, 23);
    c.run(100 * kUs);
    bb.sleep(c.now(), "futex", 20, 22);
    bb.run(100 * kUs);
    a.sleep(bb.now(), "futex", 20, 21);
  }
  Loaded l = load(dir.file("t.db"));
  const int64_t end = 10'400 * kUs;
  auto hops = waker_chain(l.data, l.thread(20), l.thread(21), 0, end, 3);
  ASSERT_EQ(hops.size(), 3u);
  EXPECT_EQ(hops[0].depth, 1);
  EXPECT_EQ(l.data.threads[static_cast<size_t>(hops[0].thread)].name, "B");
  EXPECT_EQ(hops[0].activity, "lock_wait");
  EXPECT_EQ(l.data.threads[static_cast<size_t>(hops[1].thread)].name, "C");
  EXPECT_EQ(l.data.threads[static_cast<size_t>(hops[2].thread)].name, "D");
  EXPECT_NE(hops[0].detail.find("\"C\""), std::string::npos) << hops[0].detail;
  // With room for more hops the chain reaches E and its disk read.
  auto deep = waker_chain(l.data, l.thread(20), l.thread(21), 0, end, 5);
  ASSERT_EQ(deep.size(), 4u);
  EXPECT_EQ(deep[3].activity, "blocked_io");
  EXPECT_NE(deep[3].detail.find("pread64"), std::string::npos);
  EXPECT_FALSE(deep[3].io_ids.empty());
}

TEST(AnalyzeDecomposeTest, WakerCycleStops) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(30, "app");
    Timeline& x = b.thread(30, 30, "X");
    Timeline& y = b.thread(30, 31, "Y");
    y.sleep(5 * kMs, "futex", 30, 30);  // Y waits for X ...
    x.sleep(5 * kMs, "futex", 30, 31);  // ... while X waits for Y
  }
  Loaded l = load(dir.file("t.db"));
  auto hops = waker_chain(l.data, l.thread(30), l.thread(31), 0, 5 * kMs, 3);
  ASSERT_EQ(hops.size(), 1u);  // Y, whose waker X is the subject: stop
}

TEST(AnalyzeDecomposeTest, ThreadExitingMidIntervalLeavesTheRestUnaccounted) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(40, "app");
    Timeline& main = b.thread(40, 40, "main");
    Timeline& w = b.thread(40, 41, "worker", 1, true, 3 * kMs);
    w.run(3 * kMs);  // then it exits
    main.sleep(10 * kMs, "futex", 40, 41);
  }
  Loaded l = load(dir.file("t.db"));
  auto hops = waker_chain(l.data, l.thread(40), l.thread(41), 0, 10 * kMs, 3);
  ASSERT_EQ(hops.size(), 1u);
  EXPECT_EQ(hops[0].what.on_cpu_ns, 3 * kMs);
  EXPECT_EQ(hops[0].what.unaccounted_ns, 7 * kMs);
  EXPECT_EQ(hops[0].activity, "untraced");
  EXPECT_NE(hops[0].detail.find("exited"), std::string::npos);
}

TEST(AnalyzeDecomposeTest, NestedDriverCallsAreNotTopLevel) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    Timeline& t = scenarios::gpu_process(b, 50, "app", "main");
    // cudaMemcpy calls cuMemcpyDtoH_v2 inside it, and a zero-length call sits at the end.
    t.call("cudaMemcpy", [&] {
      t.run(10 * kUs);
      t.quick("cuMemcpyDtoH_v2", 100 * kUs);
      t.run(10 * kUs);
    });
    t.quick("cudaGetLastError", 0);
  }
  Loaded l = load(dir.file("t.db"));
  ASSERT_EQ(l.data.calls.size(), 3u);
  int top = 0;
  for (const Call& c : l.data.calls) {
    const FunctionInfo& f = l.data.functions[static_cast<size_t>(c.fn)];
    if (f.name == "cuMemcpyDtoH_v2") {
      EXPECT_FALSE(c.top_level);
      EXPECT_EQ(f.base, "cuMemcpyDtoH");
      EXPECT_EQ(f.cls, CallClass::kCopySync);
    } else {
      EXPECT_TRUE(c.top_level) << f.name;
      ++top;
    }
  }
  EXPECT_EQ(top, 2);
}

TEST(AnalyzeDecomposeTest, FunctionNamesAndClasses) {
  EXPECT_EQ(function_base_name("cudaMemcpyAsync_ptsz"), "cudaMemcpyAsync");
  EXPECT_EQ(function_base_name("cuMemcpyHtoDAsync_v2_ptsz"), "cuMemcpyHtoDAsync");
  EXPECT_EQ(function_base_name("cuCtxSynchronize"), "cuCtxSynchronize");
  EXPECT_EQ(classify_function("cuMemcpyHtoDAsync"), CallClass::kCopyAsync);
  EXPECT_EQ(classify_function("cudaDeviceSynchronize"), CallClass::kSync);
  EXPECT_EQ(classify_function("cuLaunchKernel"), CallClass::kLaunch);
  EXPECT_EQ(classify_function("cudaFree"), CallClass::kFree);
  EXPECT_EQ(classify_function("cuMemAlloc"), CallClass::kAlloc);
  EXPECT_EQ(classify_function("cudaHostAlloc"), CallClass::kHostAlloc);
  EXPECT_EQ(classify_function("cudaGetDevice"), CallClass::kOther);
  EXPECT_EQ(format_duration(950), "950 ns");
  EXPECT_EQ(format_duration(41'000'000), "41.0 ms");
  EXPECT_EQ(format_duration(1'234'000), "1.23 ms");
  EXPECT_EQ(format_duration(2'500'000'000), "2.50 s");
}

}  // namespace
}  // namespace causeway::testing

namespace causeway::testing {
namespace {

// Clock edge cases: events before the trace origin (negative ts), zero-length calls and
// intervals, two calls starting at the same instant, a state overlapping the interval's
// edges. Nothing is double counted and nothing invented.
TEST(AnalyzeDecomposeTest, ClockEdgeCases) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    Timeline& t = scenarios::gpu_process(b, 60, "app", "main");
    t.at(-2 * kMs);  // recorded before the origin: the tracer attached mid-flight
    t.run(3 * kMs);
    t.quick("cudaGetLastError", 0);
    t.run(0);
    const int64_t at = t.now();
    t.quick("cudaLaunchKernel", 10 * kUs);
    t.at(at);  // a second call at the same instant (another stream of the same thread)
    t.quick("cudaLaunchKernel", 10 * kUs);
    for (int i = 0; i < 20; ++i) {
      t.run(100 * kUs);
      scenarios::launches(t, 1);
      scenarios::sync(t, 100 * kUs);
    }
  }
  Loaded l = load(dir.file("t.db"));
  EXPECT_LT(l.data.start_ns, 0);
  Decomposition d = decompose(l.data, l.thread(60), -3 * kMs, 1 * kMs, false);
  EXPECT_EQ(d.total_ns, 4 * kMs);
  EXPECT_EQ(d.unaccounted_ns, 1 * kMs);  // before the first state
  EXPECT_EQ(d.on_cpu_ns + d.runnable_ns + d.blocked_ns + d.gpu_wait_ns + d.unaccounted_ns,
            d.total_ns);
  EXPECT_EQ(decompose(l.data, l.thread(60), 5, 5, false).total_ns, 0);
  auto chains = analyze::compute_chains(l.reader->db(), {});
  ASSERT_TRUE(chains.ok()) << chains.error();
}

}  // namespace
}  // namespace causeway::testing

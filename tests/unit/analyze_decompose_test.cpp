// Interval decomposition and waker chains on hand-built timelines: exact accounting, the
// recursion limit, cycles, threads that exit mid-interval, nested runtime/driver calls.
#include <gtest/gtest.h>
#include <sqlite3.h>

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
  // -INT64_MIN overflows: it recursed forever (issue 16).
  EXPECT_EQ(format_duration(INT64_MIN), "-9223372036.85 s");
  EXPECT_EQ(format_duration(-950), "-950 ns");
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

// CPU attribution from the CPU's own timeline (cpu_slice) and how a wait ended
// (waker_context). Ground truth is computed with SQL over the raw rows, not by the code.
namespace causeway::testing {
namespace {

using namespace analyze;

// ns of `utid`'s runnable time during which `holder` held the CPU it was queued on (NULL
// holder = idle), straight from thread_state x cpu_slice.
std::string runnable_behind(int32_t tid, const std::string& holder_cond) {
  return "SELECT coalesce(sum(min(s.ts + s.dur, c.ts + c.dur) - max(s.ts, c.ts)), 0) "
         "FROM thread_state s JOIN thread t ON t.utid = s.utid "
         "JOIN cpu_slice c ON c.cpu = s.cpu AND c.ts < s.ts + s.dur AND c.ts + c.dur > s.ts "
         "LEFT JOIN thread h ON h.utid = c.utid WHERE s.state = 1 AND t.tid = " +
         std::to_string(tid) + " AND " + holder_cond;
}

const PreemptShare* share_of(const Loaded& l, const Decomposition& d, int32_t tid) {
  for (const PreemptShare& p : d.preempters) {
    if (p.thread >= 0 && l.data.threads[static_cast<size_t>(p.thread)].tid == tid) return &p;
  }
  return nullptr;
}

TEST(AnalyzeDecomposeTest, RunnableTimeGoesToWhoHeldTheCpuNotWhoSwitchedIn) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::spinner_behind_helper(path);
  Loaded l = load(path);
  ASSERT_TRUE(l.data.has_cpu_slices);
  const int32_t train = l.thread(1100);
  const Decomposition d = decompose(l.data, train, 0, l.data.end_ns, false);
  const int64_t spinner_ns = query_int(path, runnable_behind(1100, "h.tid = 1200"));
  const int64_t helper_ns = query_int(path, runnable_behind(1100, "h.tid = 1101"));
  ASSERT_GT(spinner_ns, 0);
  // 60 x 2.8 ms after the helper's switch-in, 30 x 1.5 ms after wakeups; 60 x 0.2 ms helper.
  EXPECT_EQ(spinner_ns, 60 * 2800 * kUs + 30 * 1500 * kUs);
  EXPECT_EQ(helper_ns, 60 * 200 * kUs);
  const PreemptShare* sp = share_of(l, d, 1200);
  const PreemptShare* he = share_of(l, d, 1101);
  ASSERT_NE(sp, nullptr);
  ASSERT_NE(he, nullptr);
  EXPECT_EQ(sp->ns, spinner_ns);
  EXPECT_EQ(he->ns, helper_ns);
  EXPECT_EQ(sp->cpu, 0);
  EXPECT_GT(sp->largest_slice_id, 0);
  EXPECT_EQ(d.runnable_ns, spinner_ns + helper_ns);  // nothing unknown, nothing idle
  EXPECT_EQ(d.runnable_idle_ns(), 0);
  EXPECT_EQ(d.runnable_unknown_ns(), 0);
  EXPECT_EQ(top_cpu_holder(l.data, d), l.thread(1200));
  EXPECT_EQ(runnable_culprit(l.data, d), l.thread(1200));
  EXPECT_EQ(share_of(l, d, 1100), nullptr);  // never the thread itself
}

TEST(AnalyzeDecomposeTest, WithoutCpuSlicesThePreempterIsTheFallback) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::spinner_behind_helper(path, false);
  Loaded l = load(path);
  const Decomposition d = decompose(l.data, l.thread(1100), 0, l.data.end_ns, false);
  const PreemptShare* he = share_of(l, d, 1101);
  ASSERT_NE(he, nullptr);
  // All the helper-preempted intervals, as the trace records them; the post-wakeup runnable
  // time has no preempter: unknown, not the spinner (nothing says it ran).
  EXPECT_EQ(he->ns, query_int(path,
                              "SELECT sum(dur) FROM thread_state s JOIN thread t USING (utid) "
                              "JOIN thread p ON p.utid = s.preempter_utid "
                              "WHERE t.tid = 1100 AND s.state = 1 AND p.tid = 1101"));
  EXPECT_EQ(d.runnable_unknown_ns(), 30 * 1500 * kUs);
  EXPECT_EQ(share_of(l, d, 1200), nullptr);
}

// A trace written before cpu_slice and waker_context existed: no table, no column.
TEST(AnalyzeDecomposeTest, OldTraceWithoutCpuSliceOrWakerContextStillLoads) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::spinner_behind_helper(path, false);
  // Views name the new columns; an old file has neither them nor the columns.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  std::vector<std::string> views;
  {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw, "SELECT name FROM sqlite_master WHERE type = 'view'", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      views.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
  }
  std::string sql;
  for (const std::string& v : views) sql += "DROP VIEW \"" + v + "\";";
  sql +=
      "DROP TABLE cpu_slice; ALTER TABLE thread_state DROP COLUMN waker_context; "
      "ALTER TABLE wakeup DROP COLUMN waker_context;";
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  auto d = TraceData::load(raw, {});
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_FALSE(d->has_cpu_slices);
  int32_t train = -1, helper = -1;
  for (size_t i = 0; i < d->threads.size(); ++i) {
    if (d->threads[i].tid == 1100) train = static_cast<int32_t>(i);
    if (d->threads[i].tid == 1101) helper = static_cast<int32_t>(i);
  }
  const Decomposition x = decompose(*d, train, 0, d->end_ns, false);
  EXPECT_EQ(top_cpu_holder(*d, x), helper);
  for (const BlockShare& b : x.blocked) EXPECT_EQ(b.wake, WakeKind::kUnknown);
  auto chains = analyze::compute_chains(raw, {});
  EXPECT_TRUE(chains.ok()) << chains.error();
  sqlite3_close(raw);
}

// Hand-built: subject "s" (pid 70) runnable on CPU 2 for 10 ms, split between an untraced
// task, a thread of another traced process, an idle stretch and a hole with no slice.
TEST(AnalyzeDecomposeTest, RunnableSplitsByHolderIdleAndUnknown) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    TraceBuilder b(path);
    b.process(70, "app");
    b.process(71, "other");  // traced
    b.process(72, "make", false);
    b.thread(71, 71, "peer", 2);
    b.thread(72, 72, "cc1plus", 2, false);
    Timeline& s = b.thread(70, 70, "s", 2);
    s.run(1 * kMs);
    const int64_t r = s.now();
    s.runnable(10 * kMs, 71, 71);                   // the peer switched in when s left the CPU
    b.slice(2, r - 1 * kMs, 1 * kMs, 70, 70);       // s itself, before: outside
    b.slice(2, r, 1 * kMs, 71, 71);                 // peer 1 ms
    b.slice(2, r + 1 * kMs, 5 * kMs, 72, 72);       // untraced compiler 5 ms
    b.slice(2, r + 6 * kMs, 1500 * kUs, 0, 0);      // idle 1.5 ms
    b.slice(2, r + 7500 * kUs, 500 * kUs, 70, 70);  // "s" (clock skew): unknown
    // [r + 8 ms, r + 10 ms): no slice, unknown
    s.run(1 * kMs);
    // A second runnable interval that no slice covers: the preempter is the fallback.
    s.runnable(2 * kMs, 72, 72);
  }
  Loaded l = load(path);
  const Decomposition d = decompose(l.data, l.thread(70), 0, l.data.end_ns, false);
  EXPECT_EQ(d.runnable_ns, 12 * kMs);
  EXPECT_EQ(d.runnable_intervals, 2);
  const PreemptShare* cc = share_of(l, d, 72);
  const PreemptShare* peer = share_of(l, d, 71);
  ASSERT_NE(cc, nullptr);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(cc->ns, 5 * kMs + 2 * kMs);  // slices + the uncovered interval's preempter
  EXPECT_EQ(cc->intervals, 2);
  EXPECT_EQ(peer->ns, 1 * kMs);
  EXPECT_EQ(d.runnable_idle_ns(), 1500 * kUs);
  EXPECT_EQ(d.runnable_unknown_ns(), 2500 * kUs);
  EXPECT_EQ(share_of(l, d, 70), nullptr);
  EXPECT_EQ(query_int(path, runnable_behind(70, "h.tid = 72")), 5 * kMs);
  EXPECT_EQ(query_int(path, runnable_behind(70, "c.utid IS NULL")), 1500 * kUs);
  EXPECT_EQ(runnable_culprit(l.data, d), l.thread(72));
}

TEST(AnalyzeDecomposeTest, IdleWhileRunnableBlamesNoTask) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    TraceBuilder b(path);
    b.process(80, "app");
    b.process(81, "x", false);
    b.thread(81, 81, "x", 1, false);
    Timeline& s = b.thread(80, 80, "s", 1);
    for (int i = 0; i < 5; ++i) {
      s.run(1 * kMs);
      b.slice(1, s.now(), 1800 * kUs, 0, 0);  // throttled: the CPU sat idle
      b.slice(1, s.now() + 1800 * kUs, 200 * kUs, 81, 81);
      s.runnable(2 * kMs, 81, 81);
    }
  }
  Loaded l = load(path);
  const Decomposition d = decompose(l.data, l.thread(80), 0, l.data.end_ns, false);
  EXPECT_EQ(d.runnable_idle_ns(), 5 * 1800 * kUs);
  EXPECT_EQ(top_cpu_holder(l.data, d), l.thread(81));
  EXPECT_EQ(runnable_culprit(l.data, d), -1);  // idle for longer than anyone held it
}

// A futex wait that timed out while an unrelated compiler ran where it completed: the old
// rule (waker_utid = whoever ran there) would name cc1plus. waker_context = timer says
// nobody woke it; an interrupt outside a call is no task either, inside a call GPU wait.
TEST(AnalyzeDecomposeTest, TimersAndInterruptsWakeNobody) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    TraceBuilder b(path);
    b.process(90, "app");
    b.process(91, "make", false);
    b.thread(91, 91, "cc1plus", 0, false);
    Timeline& s = b.thread(90, 90, "s", 0);
    s.wake_context(store::WakerContext::kTimer);
    s.sleep(5 * kMs, "futex", 91, 91);  // the recorder saw cc1plus on that CPU
    s.wake_context(store::WakerContext::kSoftirq);
    s.sleep(3 * kMs, "read", 0, 0);
    s.wake_context(store::WakerContext::kHardirq);
    s.call("cudaStreamSynchronize", [&] { s.sleep(2 * kMs, "ioctl", 0, 0); });
  }
  Loaded l = load(path);
  const int32_t s = l.thread(90);
  const Decomposition d = decompose(l.data, s, 0, 8 * kMs, false);
  ASSERT_EQ(d.blocked.size(), 2u);
  for (const BlockShare& b : d.blocked) EXPECT_EQ(b.waker, -1) << b.reason;
  EXPECT_EQ(d.blocked_by(BlockCause::kSleep), 5 * kMs);  // a timeout, not a lock
  EXPECT_EQ(d.blocked_by(BlockCause::kLock), 0);
  EXPECT_EQ(d.blocked[0].wake, WakeKind::kTimer);
  EXPECT_EQ(d.blocked[1].wake, WakeKind::kInterrupt);
  EXPECT_EQ(decompose(l.data, s, 8 * kMs, 10 * kMs, true).gpu_wait_ns, 2 * kMs);
  // The waker chain has nobody to follow.
  EXPECT_TRUE(waker_chain(l.data, s, d.blocked[0].waker, 0, 5 * kMs).empty());
  auto chains = analyze::compute_chains(l.reader->db(), {});
  ASSERT_TRUE(chains.ok());
  for (const Chain& c : *chains) {
    if (c.culprit) {
      EXPECT_NE(c.culprit->comm, "cc1plus");
    }
    EXPECT_EQ(c.explanation.find("cc1plus"), std::string::npos) << c.explanation;
  }
}

// The recorder stops a thread (SIGSTOP) while it attaches probes and resumes it: that is its
// overhead, never a wait on a task, and the recorder is never a waker to follow.
TEST(AnalyzeDecomposeTest, RecorderStopsAreItsOverhead) {
  for (bool with_meta : {true, false}) {
    TempDir dir;
    const std::string path = dir.file("t.db");
    scenarios::recorder_stops(path, with_meta);
    Loaded l = load(path);
    const int32_t rec = l.thread(1700);
    EXPECT_TRUE(l.data.is_recorder(rec)) << with_meta;
    EXPECT_TRUE(l.data.is_recorder(l.thread(1701))) << with_meta;  // same process
    EXPECT_EQ(l.data.recorder_pid, with_meta ? 1700 : 0);
    const int32_t t = l.thread(1600);
    const Decomposition d = decompose(l.data, t, 0, l.data.end_ns, false);
    EXPECT_EQ(d.blocked_by(BlockCause::kRecorder), 3 * 40 * kMs);
    EXPECT_EQ(d.blocked_by(BlockCause::kWait), 0);
    EXPECT_EQ(top_cpu_holder(l.data, d), -1);  // it held the CPU, but is not to blame
    EXPECT_TRUE(waker_chain(l.data, t, rec, 0, l.data.end_ns).empty());
  }
}

}  // namespace
}  // namespace causeway::testing

// Causal chains on synthetic traces: each category with the right culprit, healthy twins
// without high-severity chains, ties, empty traces, traces without CUDA calls.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>

#include "analyze/chains.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

std::vector<Chain> chains_of(const std::string& path, const analyze::ExplainOptions& o = {}) {
  auto r = store::Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) return {};
  auto c = analyze::compute_chains((*r)->db(), o);
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? *c : std::vector<Chain>{};
}

std::string dump(const std::vector<Chain>& v) {
  return analyze::format_chains_text(v, 0);
}

const Chain* find(const std::vector<Chain>& v, const std::string& category) {
  for (const Chain& c : v) {
    if (c.category == category) return &c;
  }
  return nullptr;
}

void expect_no_high(const std::vector<Chain>& v) {
  for (const Chain& c : v) EXPECT_NE(c.severity, "high") << dump(v);
}

bool cites(const Chain& c, const std::string& table) {
  for (const auto& e : c.evidence) {
    if (e.table == table && e.id > 0) return true;
  }
  return false;
}

TEST(AnalyzeChainsTest, NoisyNeighbourIsCpuContentionByTheNeighbourOnItsCpu) {
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

TEST(AnalyzeChainsTest, HealthyNeighbourRunRaisesNoHighChain) {
  TempDir dir;
  scenarios::noisy_neighbour(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "cpu_contention"), nullptr) << dump(v);
}

TEST(AnalyzeChainsTest, DataLoaderThatCannotKeepUpIsNamedWithWhatTheLoaderWasDoing) {
  TempDir dir;
  scenarios::data_loader(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "data_loader") << dump(v);
  EXPECT_EQ(top.severity, "high");
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm.rfind("loader-", 0), 0u) << top.culprit->comm;
  EXPECT_EQ(top.occurrences, 120);
  ASSERT_FALSE(top.waker_chain.empty());
  EXPECT_EQ(top.waker_chain[0].activity, "blocked_io") << top.waker_chain[0].detail;
  EXPECT_NE(top.waker_chain[0].detail.find("pread64"), std::string::npos);
  EXPECT_NE(top.waker_chain[0].detail.find("8:0"), std::string::npos);
  EXPECT_NE(top.recommendation.find("disk-bound"), std::string::npos);
  EXPECT_TRUE(cites(top, "syscall"));
}

// The live scenario_dataloader shape: the consumer waits on a condition variable in one of
// the five gaps of a step, not in every step, and sometimes queues briefly for the queue
// mutex that the loaders also take. Still a data loader, not lock contention.
TEST(AnalyzeChainsTest, ConsumerWaitingOnAConditionTheLoadersSignalIsDataLoader) {
  TempDir dir;
  scenarios::data_loader_condvar(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "data_loader") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm.rfind("loader-", 0), 0u) << top.culprit->comm;
  EXPECT_EQ(top.subject.tid, 800);
  EXPECT_EQ(top.occurrences, 60);  // 3 of every 4 steps waited
  EXPECT_EQ(find(v, "lock_wait"), nullptr) << dump(v);
  EXPECT_NE(top.recommendation.find("loader"), std::string::npos) << top.recommendation;
}

// Both threads queue for the same futex word every step: the recurrence of a data loader,
// but the waker is a lock holder that itself waits for the lock. Lock contention.
TEST(AnalyzeChainsTest, ThreadsQueueingForTheSameMutexEveryStepIsLockWaitNotDataLoader) {
  TempDir dir;
  scenarios::mutex_contention(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "stats");
  // 2 ms per step; the first step's wait comes before the first CUDA call, outside the span.
  EXPECT_EQ(top.blocked_by_reason.at("futex"), 99 * 2 * kMs);
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
}

// The waker never waits on the lock (no contention visible from its side) but spends every
// wait in fdatasync: a lock held across output I/O, not a loader producing input.
TEST(AnalyzeChainsTest, LockHeldAcrossFdatasyncEveryStepIsLockWaitNotDataLoader) {
  TempDir dir;
  scenarios::lock_held_across_fsync_every_step(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "logger");
  EXPECT_NE(top.recommendation.find("fdatasync"), std::string::npos) << top.recommendation;
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
}

// The same waits (the logger computes, then ends decode's wait) are a lock when decode waited
// to acquire a mutex, and a data loader when it waited on a condition the logger signals.
TEST(AnalyzeChainsTest, LockHeldAcrossCpuWorkIsLockWaitAndTheSameHandOffIsDataLoader) {
  TempDir dir;
  scenarios::lock_held_across_cpu_work_every_step(dir.file("mutex.db"), 128);
  auto v = chains_of(dir.file("mutex.db"));
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front().category, "lock_wait") << dump(v);
  ASSERT_TRUE(v.front().culprit);
  EXPECT_EQ(v.front().culprit->comm, "logger");
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);

  scenarios::lock_held_across_cpu_work_every_step(dir.file("condvar.db"), 137);
  v = chains_of(dir.file("condvar.db"));
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front().category, "data_loader") << dump(v);
  ASSERT_TRUE(v.front().culprit);
  EXPECT_EQ(v.front().culprit->comm, "logger");
}

// A Python thread that drives the GPU and waits for the GIL: gil_wait, naming the thread that
// held the GIL and the Python line it was running, not a lock, a timeout or a data loader.
TEST(AnalyzeChainsTest, PythonGilWaitNamesTheHolderAndItsLine) {
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

TEST(AnalyzeChainsTest, HealthyPythonRaisesNoGilWait) {
  TempDir dir;
  scenarios::python_gil(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "gil_wait"), nullptr) << dump(v);
}

TEST(AnalyzeChainsTest, HealthyDataLoaderRaisesNoHighChain) {
  TempDir dir;
  scenarios::data_loader(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
  EXPECT_EQ(find(v, "pageable_copy"), nullptr) << dump(v);
}

TEST(AnalyzeChainsTest, PerStepDeviceToHostCopyIsHostSync) {
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

TEST(AnalyzeChainsTest, HealthyDecodeLoopRaisesNoHostSync) {
  TempDir dir;
  scenarios::host_sync(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "host_sync"), nullptr) << dump(v);
}

TEST(AnalyzeChainsTest, MallocFreeEveryStepIsAllocatorChurn) {
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

TEST(AnalyzeChainsTest, HealthyAllocationOnceRaisesNothing) {
  TempDir dir;
  scenarios::allocator_churn(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "allocator_churn"), nullptr) << dump(v);
}

TEST(AnalyzeChainsTest, CopiesFromPageableMemoryArePageableCopy) {
  TempDir dir;
  scenarios::pageable_copy(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  const Chain* c = find(v, "pageable_copy");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->occurrences, 60);
  EXPECT_EQ(c->impact_ns, 60 * 1600 * kUs);  // staging on the CPU inside the copies
  EXPECT_NE(c->recommendation.find("cudaMallocHost"), std::string::npos);
}

TEST(AnalyzeChainsTest, CopiesFromPinnedMemoryAreNotFlagged) {
  TempDir dir;
  scenarios::pageable_copy(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_EQ(find(v, "pageable_copy"), nullptr) << dump(v);
  expect_no_high(v);
}

TEST(AnalyzeChainsTest, LockHeldAcrossFdatasyncIsLockWaitWithTheLoggerAndItsDisk) {
  TempDir dir;
  scenarios::lock_wait(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "logger");
  EXPECT_EQ(top.culprit->tid, 701);
  ASSERT_FALSE(top.waker_chain.empty());
  EXPECT_EQ(top.waker_chain[0].task.comm, "logger");
  EXPECT_EQ(top.waker_chain[0].activity, "blocked_io");
  EXPECT_NE(top.waker_chain[0].detail.find("fdatasync"), std::string::npos);
  EXPECT_NE(top.recommendation.find("fdatasync"), std::string::npos) << top.recommendation;
  // Each wait lasts from the lock request to the logger's release: 25 ms of fdatasync plus
  // 200 us of the logger running around it.
  EXPECT_EQ(top.blocked_by_reason.at("futex"), 5 * (25 * kMs + 200 * kUs));
  EXPECT_TRUE(cites(top, "block_io") || cites(top, "syscall"));
}

TEST(AnalyzeChainsTest, HealthyLockRunRaisesNothing) {
  TempDir dir;
  scenarios::lock_wait(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_TRUE(v.empty()) << dump(v);
}

TEST(AnalyzeChainsTest, SlowCallOutlierIsDecomposedAgainstItsOwnBaseline) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    Timeline& t = scenarios::gpu_process(b, 800, "app", "main");
    b.process(900, "backup", false);
    b.thread(900, 900, "backup", 0, false);
    t.at(1 * kMs);
    for (int i = 0; i < 100; ++i) {
      t.run(2 * kMs);
      scenarios::launches(t, 1);
      if (i == 50) {
        t.call("cudaStreamSynchronize", [&] {
          t.sleep(200 * kUs, "futex", 800, 800 + scenarios::kGpuTid);
          t.runnable(40 * kMs, 900, 900);
          t.run(10 * kUs);
        });
      } else {
        scenarios::sync(t, 200 * kUs);
      }
    }
  }
  auto v = chains_of(dir.file("t.db"));
  const Chain* c = find(v, "cpu_contention");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->culprit->comm, "backup");
  EXPECT_NE(c->explanation.find("cudaStreamSynchronize"), std::string::npos) << c->explanation;
  ASSERT_TRUE(c->baseline || c->kind == "thread");
}

TEST(AnalyzeChainsTest, EqualChainsOnTwoThreadsRankDeterministicallyByTid) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(200, "burner", false);
    b.thread(200, 200, "burner", 0, false);
    for (int32_t pid : {1200, 1100}) {
      Timeline& t = scenarios::gpu_process(b, pid, "twin", "worker");
      t.at(1 * kMs);
      for (int i = 0; i < 50; ++i) {
        t.run(100 * kUs);
        t.runnable(900 * kUs, 200, 200);
        scenarios::launches(t, 2);
        scenarios::sync(t, 1 * kMs);
      }
    }
  }
  auto v = chains_of(dir.file("t.db"));
  ASSERT_GE(v.size(), 2u) << dump(v);
  EXPECT_EQ(v[0].impact_ns, v[1].impact_ns);
  EXPECT_EQ(v[0].subject.tid, 1100);
  EXPECT_EQ(v[1].subject.tid, 1200);
  EXPECT_EQ(v[0].id, 1);
  EXPECT_EQ(v[1].id, 2);
}

TEST(AnalyzeChainsTest, EmptyTraceHasNoChains) {
  TempDir dir;
  { TraceBuilder b(dir.file("t.db")); }
  EXPECT_TRUE(chains_of(dir.file("t.db")).empty());
}

TEST(AnalyzeChainsTest, TraceWithoutCudaCallsHasNoChains) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(10, "sh");
    Timeline& t = b.thread(10, 10, "sh");
    for (int i = 0; i < 50; ++i) {
      t.run(1 * kMs);
      t.runnable(5 * kMs, 0, 0);
      t.disk(3 * kMs, "read", 4096);
    }
  }
  EXPECT_TRUE(chains_of(dir.file("t.db")).empty());
}

TEST(AnalyzeChainsTest, PidFilterAndTopLimit) {
  TempDir dir;
  scenarios::noisy_neighbour(dir.file("t.db"), false);
  analyze::ExplainOptions o;
  o.pid = 4242;
  EXPECT_TRUE(chains_of(dir.file("t.db"), o).empty());
  o.pid = 100;
  o.top = 1;
  auto v = chains_of(dir.file("t.db"), o);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].subject.pid, 100);
}

TEST(AnalyzeChainsTest, HeaderCountsEveryChainAndSaysHowManyAreShown) {
  std::vector<Chain> v(5);
  const char* sev[] = {"high", "high", "medium", "medium", "low"};
  for (size_t i = 0; i < v.size(); ++i) {
    v[i].id = static_cast<int64_t>(i + 1);
    v[i].severity = sev[i];
    v[i].category = "cpu_contention";
    v[i].summary = "chain " + std::to_string(i + 1);
  }
  const std::string top1 = analyze::format_chains_text(v, 300 * kMs, 1);
  EXPECT_EQ(top1.rfind("5 causal chains (2 high, 2 medium, 1 low) over a 300.0 ms trace; showing "
                       "the top 1, most severe and largest impact first.\n",
                       0),
            0u)
      << top1;
  EXPECT_NE(top1.find("\n#1 "), std::string::npos);
  EXPECT_EQ(top1.find("\n#2 "), std::string::npos) << top1;
  const std::string all = analyze::format_chains_text(v, 300 * kMs);
  EXPECT_EQ(all.find("showing"), std::string::npos);
  EXPECT_NE(all.find("\n#5 "), std::string::npos);
  // --top at or above the count shows everything and says nothing about it.
  EXPECT_EQ(analyze::format_chains_text(v, 300 * kMs, 5), all);
}

// Every thread_state evidence row carries its time: within the row it cites.
TEST(AnalyzeChainsTest, ThreadStateEvidenceHasItsTime) {
  TempDir dir;
  int checked = 0;
  for (int k = 0; k < 3; ++k) {
    const std::string path = dir.file("t" + std::to_string(k) + ".db");
    if (k == 0) scenarios::noisy_neighbour(path, false);
    if (k == 1) scenarios::lock_wait(path, false);
    if (k == 2) scenarios::spinner_behind_helper(path);
    for (const Chain& c : chains_of(path)) {
      for (const auto& e : c.evidence) {
        if (e.table != "thread_state" && e.table != "cpu_slice" && e.table != "syscall") continue;
        const std::string row = " FROM " + e.table + " WHERE id = " + std::to_string(e.id);
        EXPECT_GE(e.ts_ns, query_int(path, "SELECT ts" + row)) << c.category << " " << e.role;
        EXPECT_LE(e.ts_ns, query_int(path, "SELECT ts + dur" + row)) << c.category;
        EXPECT_NE(e.ts_ns, 0);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 5);
}

// The case 1: the helper that switched in when train left the CPU ran 0.2 ms per
// step; the nice -10 spinner held CPU 0 for the rest of every runnable interval, including
// the runnable time after wakeups. The spinner is the culprit, with its exact share.
TEST(AnalyzeChainsTest, CpuContentionNamesWhoHeldTheCpuNotWhoSwitchedIn) {
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

// A competitor named only by the CPU's timeline: thread_state.preempter says a short-lived
// "kworker" switched in, cpu_slice says who held CPU 0 for the rest: an untraced compiler, or
// a thread of another traced process. And a CPU that sat idle while the thread was runnable
// (CPU-quota throttling) names nobody.
void contended_by(const std::string& path, int mode) {
  TraceBuilder b(path);
  Timeline& t = scenarios::gpu_process(b, 1800, "trainer", "train");
  b.process(1801, "kworker", false);
  b.thread(1801, 1801, "kworker", 0, false);
  b.process(1900, mode == 1 ? "other-job" : "make", mode == 1);
  b.thread(1900, 1900, mode == 1 ? "other-job" : "cc1plus", 0, mode == 1);
  t.at(1 * kMs);
  for (int step = 0; step < 80; ++step) {
    t.run(1 * kMs);
    b.slice(0, t.now(), 100 * kUs, 1801, 1801);
    if (mode == 2) {
      b.slice(0, t.now() + 100 * kUs, 1900 * kUs, 0, 0);
    } else {
      b.slice(0, t.now() + 100 * kUs, 1900 * kUs, 1900, 1900);
    }
    t.runnable(2 * kMs, 1801, 1801);
    scenarios::launches(t, 3);
    scenarios::sync(t, 1 * kMs);
  }
}

TEST(AnalyzeChainsTest, CompetitorFromTheCpuTimelineTracedOrNotAndIdleNamesNobody) {
  for (int mode : {0, 1, 2}) {
    SCOPED_TRACE(mode);
    TempDir dir;
    const std::string path = dir.file("t.db");
    contended_by(path, mode);
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

// The same idle-CPU waits under a CPU quota that throttled the process during the trace (meta
// cpu_quotas, as the recorder writes it): cpu_throttling naming the cgroup and its quota, the
// impact the idle time. A quota that never throttled it is no evidence: still cpu_contention.
TEST(AnalyzeChainsTest, IdleWaitsUnderAQuotaThatThrottledAreCpuThrottling) {
  for (bool throttled : {true, false}) {
    SCOPED_TRACE(throttled);
    TempDir dir;
    const std::string path = dir.file("t.db");
    contended_by(path, 2);
    exec_sql(path,
             "INSERT OR REPLACE INTO meta (key, value) VALUES ('cpu_quotas', '[{\"version\": 2, "
             "\"cgroup\": \"/job.slice\", \"quota_us\": 20000, \"period_us\": 100000, "
             "\"start\": {\"nr_periods\": 3, \"nr_throttled\": 1, \"throttled_ns\": 5}, "
             "\"end\": {\"nr_periods\": 40, \"nr_throttled\": " +
                 std::string(throttled ? "30" : "1") +
                 ", \"throttled_ns\": 150000005}, \"pids\": [1800]}]')");
    auto v = chains_of(path);
    const Chain* t = find(v, "cpu_throttling");
    if (!throttled) {
      EXPECT_EQ(t, nullptr) << dump(v);
      EXPECT_NE(find(v, "cpu_contention"), nullptr) << dump(v);
      continue;
    }
    ASSERT_NE(t, nullptr) << dump(v);
    EXPECT_EQ(find(v, "cpu_contention"), nullptr) << dump(v);
    EXPECT_FALSE(t->culprit);
    EXPECT_EQ(t->impact_ns, 79 * 1900 * kUs);  // the idle part of the waits
    EXPECT_NE(t->summary.find("cgroup /job.slice (20 ms of CPU per 100 ms)"), std::string::npos)
        << t->summary;
    EXPECT_NE(t->explanation.find("rose by 29 periods (150.0 ms held back)"), std::string::npos)
        << t->explanation;
    EXPECT_NE(t->recommendation.find("cpu.max"), std::string::npos) << t->recommendation;
  }
  // Malformed meta from a hostile file is no evidence, not a failure.
  TempDir dir;
  const std::string path = dir.file("t.db");
  contended_by(path, 2);
  exec_sql(path,
           "INSERT OR REPLACE INTO meta (key, value) VALUES ('cpu_quotas', '[{\"start\": "
           "7, \"end\": [], \"pids\": \"x\"}, 3, null')");
  auto v = chains_of(path);
  EXPECT_NE(find(v, "cpu_contention"), nullptr) << dump(v);
}

// The recorder stopping python3 at dlopen (then SIGCONT) and holding its CPU a moment is its
// own overhead: never a culprit, a lock/wait chain or a contention chain.
TEST(AnalyzeChainsTest, RecorderIsNeverACulprit) {
  for (bool with_meta : {true, false}) {
    TempDir dir;
    scenarios::recorder_stops(dir.file("t.db"), with_meta);
    auto v = chains_of(dir.file("t.db"));
    for (const Chain& c : v) {
      if (c.culprit) {
        EXPECT_NE(c.culprit->pid, 1700) << dump(v);
      }
      EXPECT_NE(c.category, "blocked_wait") << dump(v);
      EXPECT_NE(c.category, "lock_wait") << dump(v);
      EXPECT_NE(c.category, "cpu_contention") << dump(v);
      EXPECT_EQ(c.explanation.find("woken by \"causeway\""), std::string::npos) << c.explanation;
    }
    const Chain* r = find(v, "recorder_overhead");
    ASSERT_NE(r, nullptr) << dump(v);
    EXPECT_EQ(r->severity, "low");
    EXPECT_FALSE(r->culprit);
    EXPECT_EQ(r->blocked_by_reason.at("stopped by the recorder"), 3 * 40 * kMs);
  }
}

TEST(AnalyzeChainsTest, TimeWindowLimitsTheAnalysis) {
  TempDir dir;
  scenarios::noisy_neighbour(dir.file("t.db"), false);
  // The neighbour arrives at step 40 (~ 130 ms): before it, nothing to explain.
  analyze::ExplainOptions o;
  o.until_ns = 100 * kMs;
  auto v = chains_of(dir.file("t.db"), o);
  EXPECT_EQ(find(v, "cpu_contention"), nullptr) << dump(v);
  o.until_ns.reset();
  o.since_ns = 200 * kMs;
  v = chains_of(dir.file("t.db"), o);
  ASSERT_NE(find(v, "cpu_contention"), nullptr) << dump(v);
}

// Who held the CPU (holder) and how a wait ended (woken_by) survive the JSON round trip
// that stored chains take.
TEST(AnalyzeChainsTest, HolderAndWokenByRoundTripThroughJson) {
  Chain c;
  c.category = "cpu_contention";
  c.severity = "high";
  analyze::PreemptorShare idle;
  idle.holder = "idle";
  idle.cpu = 3;
  idle.ns = 5 * kMs;
  c.preempters.push_back(idle);
  analyze::BlockedShare timed_out;
  timed_out.cause = "sleep";
  timed_out.reason = "futex";
  timed_out.woken_by = "timer";
  timed_out.ns = 2 * kMs;
  c.blocked.push_back(timed_out);
  const nlohmann::json j = analyze::to_json(c);
  EXPECT_EQ(j["preempters"][0]["holder"], "idle");
  EXPECT_EQ(j["blocked"][0]["woken_by"], "timer");
  EXPECT_TRUE(j["blocked"][0]["waker"].is_null());
  auto back = analyze::chain_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->preempters[0].holder, "idle");
  EXPECT_EQ(back->blocked[0].woken_by, "timer");
  EXPECT_EQ(analyze::to_json(*back), j);
}

TEST(AnalyzeChainsTest, JsonRoundTripsAndHasTheDocumentedKeys) {
  TempDir dir;
  scenarios::lock_wait(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  nlohmann::json j = analyze::chains_to_json(v);
  ASSERT_TRUE(j["chains"].is_array());
  const auto& c = j["chains"][0];
  for (const char* k :
       {"id", "severity", "category", "summary", "explanation", "culprit", "impact_ns", "evidence",
        "recommendation", "on_cpu_ns", "runnable_ns", "blocked_ns", "gpu_wait_ns", "waker_chain"}) {
    EXPECT_TRUE(c.contains(k)) << k;
  }
  EXPECT_TRUE(c["blocked_ns"].is_object());
  EXPECT_TRUE(c["evidence"][0].contains("table"));
  auto back = analyze::chain_from_json(c);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(analyze::to_json(*back), c);
}

}  // namespace
}  // namespace causeway::testing

namespace causeway::testing {
namespace {

TEST(AnalyzeChainsTest, RankingIsSeverityThenImpactThenStableKeys) {
  auto make = [](const char* sev, int64_t impact, const char* cat, int32_t tid) {
    analyze::Chain c;
    c.severity = sev;
    c.impact_ns = impact;
    c.category = cat;
    c.subject.tid = tid;
    return c;
  };
  std::vector<analyze::Chain> v = {
      make("low", 900, "gpu_busy", 1), make("high", 100, "lock_wait", 2),
      make("high", 300, "cpu_contention", 3), make("high", 100, "blocked_io", 4),
      make("medium", 500, "phase_shift", 5)};
  analyze::rank_chains(v);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].subject.tid, 3);
  EXPECT_EQ(v[1].category, "blocked_io");  // equal impact: category decides
  EXPECT_EQ(v[2].category, "lock_wait");
  EXPECT_EQ(v[3].severity, "medium");
  EXPECT_EQ(v[4].severity, "low");
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i].id, static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace causeway::testing

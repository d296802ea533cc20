// Recognising a Python GIL from futex waits (src/analyze/python_gil.cpp): which waits are GIL
// waits, who held the GIL for each, and what must not be taken for a GIL.
#include <gtest/gtest.h>

#include "analyze/trace_data.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::TraceData;

constexpr const char* kPythonMeta = R"({"500":{"status":"ok","version":"3.11.2"}})";

struct Loaded {
  std::unique_ptr<store::Reader> reader;
  TraceData data;
};

Loaded load(const std::string& path) {
  Loaded l;
  auto r = store::Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) return l;
  l.reader = std::move(*r);
  auto d = TraceData::load(l.reader->db(), {});
  EXPECT_TRUE(d.ok()) << d.error();
  if (d.ok()) l.data = std::move(*d);
  return l;
}

// The holder of thread_state `id` as a tid (0: not a GIL wait, -1: unknown holder).
int32_t holder_tid(const TraceData& d, int64_t id) {
  auto h = d.gil_holder_of(id);
  if (!h) return 0;
  return *h < 0 ? -1 : d.threads[static_cast<size_t>(*h)].tid;
}

// "main" (500) and two workers of a Python process contend for a GIL at `gil`: main times out
// three times per round and is signalled by the worker that held it; the workers wait for it
// in turn while main runs.
struct Rounds {
  std::vector<int64_t> timed_out, signalled;
};
Rounds gil_rounds(TraceBuilder& b, uint64_t gil, bool python = true) {
  b.process(500, python ? "python3" : "server");
  if (python) b.meta("python", kPythonMeta);
  Timeline& m = b.thread(500, 500, "main", 0);
  Timeline& w1 = b.thread(500, 501, "worker-1", 1);
  Timeline& w2 = b.thread(500, 502, "worker-2", 1);
  Rounds r;
  m.at(1 * kMs);
  w1.at(1 * kMs);
  w2.at(1 * kMs);
  for (int round = 0; round < 6; ++round) {
    Timeline& holder = round % 2 ? w2 : w1;
    Timeline& other = round % 2 ? w1 : w2;
    const int32_t holder_tid = holder.tid();
    m.run(200 * kUs);  // main holds the GIL; both workers wait for it
    for (Timeline* w : {&holder, &other}) {
      w->wake_context(store::WakerContext::kTask);
      w->futex(m.now() - w->now(), gil, 137, 0, 500, 500);
    }
    for (int i = 0; i < 3; ++i) {
      m.wake_context(store::WakerContext::kTimer);
      r.timed_out.push_back(m.futex(5 * kMs, gil, 137, -110, 0, 0));
      m.run(3 * kUs);
    }
    m.wake_context(store::WakerContext::kTask);
    r.signalled.push_back(m.futex(100 * kUs, gil + 4, 137, 0, 500, holder_tid));
    holder.run(m.now() - holder.now());
    other.wake_context(store::WakerContext::kTask);
    other.futex(m.now() - other.now(), gil + 8, 128, 0, 500, holder_tid);
  }
  return r;
}

TEST(AnalyzePythonGilTest, TimedOutWaitsAreHeldByTheThreadWhoseSignalEndedThem) {
  TempDir dir;
  Rounds r;
  {
    TraceBuilder b(dir.file("t.db"));
    r = gil_rounds(b, 0xa5b8f0);
  }
  Loaded l = load(dir.file("t.db"));
  for (size_t i = 0; i < r.timed_out.size(); ++i) {
    const int32_t expected = (i / 3) % 2 ? 502 : 501;
    EXPECT_EQ(holder_tid(l.data, r.timed_out[i]), expected) << "timed-out wait " << i;
  }
  for (size_t i = 0; i < r.signalled.size(); ++i) {
    EXPECT_EQ(holder_tid(l.data, r.signalled[i]), i % 2 ? 502 : 501) << "signalled wait " << i;
  }
}

TEST(AnalyzePythonGilTest, TheSameWaitsOutsideAPythonProcessAreNotAGil) {
  TempDir dir;
  Rounds r;
  {
    TraceBuilder b(dir.file("t.db"));
    r = gil_rounds(b, 0xa5b8f0, false);
  }
  Loaded l = load(dir.file("t.db"));
  EXPECT_TRUE(l.data.gil_holder.empty());
}

// One thread polling a queue with a timeout (its own futex word, nobody else waits near it)
// has the timeouts and the signals but is not a GIL: a private timed wait.
TEST(AnalyzePythonGilTest, APrivateTimedPollIsNotAGil) {
  TempDir dir;
  {
    TraceBuilder b(dir.file("t.db"));
    b.process(500, "python3");
    b.meta("python", kPythonMeta);
    Timeline& m = b.thread(500, 500, "main", 0);
    Timeline& p = b.thread(500, 501, "producer", 1);
    m.at(1 * kMs);
    for (int i = 0; i < 20; ++i) {
      m.wake_context(store::WakerContext::kTimer);
      m.futex(5 * kMs, 0x7f0000001000, 137, -110, 0, 0);
      m.run(20 * kUs);
      m.wake_context(store::WakerContext::kTask);
      m.futex(1 * kMs, 0x7f0000001000, 137, 0, 500, 501);
      m.run(20 * kUs);
    }
    p.at(1 * kMs);
    p.run(m.now() - p.now());
  }
  Loaded l = load(dir.file("t.db"));
  EXPECT_TRUE(l.data.gil_holder.empty());
}

// Timed-out waits that no signal ends (main got the GIL on its own after a long run) are held
// by the thread of the process that was on a CPU meanwhile.
TEST(AnalyzePythonGilTest, WithoutASignalTheHolderIsWhoRanMeanwhile) {
  TempDir dir;
  int64_t lone = 0;
  {
    TraceBuilder b(dir.file("t.db"));
    gil_rounds(b, 0xa5b8f0);
    Timeline& m = b.thread(500, 500, "main", 0);  // the timelines gil_rounds built
    Timeline& w2 = b.thread(500, 502, "worker-2", 1);
    Timeline& w1 = b.thread(500, 501, "worker-1", 1);
    w1.wake_context(store::WakerContext::kTimer);
    w1.sleep(20 * kMs, "clock_nanosleep", 0, 0);
    m.wake_context(store::WakerContext::kTimer);
    lone = m.futex(5 * kMs, 0xa5b8f0, 137, -110, 0, 0);
    w2.run(m.now() - w2.now());
    m.run(3 * kMs);  // took the GIL itself
  }
  Loaded l = load(dir.file("t.db"));
  EXPECT_EQ(holder_tid(l.data, lone), 502);
}

}  // namespace
}  // namespace causeway::testing

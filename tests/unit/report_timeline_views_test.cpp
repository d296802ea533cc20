// Timeline windows of the HTML report: they hold each chain's evidence and the threads it
// names, and stay within their caps.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>

#include "analyze/chains.h"
#include "fixtures/scenarios.h"
#include "fixtures/trace_builder.h"
#include "report/timeline_views.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::report {
namespace {

using causeway::testing::TempDir;

struct Loaded {
  std::unique_ptr<store::Reader> reader;
  std::vector<analyze::Chain> chains;
};

Loaded load(const std::string& path) {
  Loaded l;
  auto r = store::Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) return l;
  l.reader = std::move(*r);
  auto chains = analyze::compute_chains(l.reader->db(), {});
  EXPECT_TRUE(chains.ok()) << chains.error();
  if (chains.ok()) l.chains = std::move(*chains);
  return l;
}

// Every cited event row that overlaps the window (on a lane shown) is drawn and marked as
// evidence; rows are looked up in the trace, not taken from the chain's ts_ns (0 when unknown).
void expect_evidence_drawn(sqlite3* db, const analyze::Chain& c, const TimelineView& v) {
  std::set<std::pair<std::string, int64_t>> drawn;
  for (const auto& e : v.events) {
    if (e.evidence) drawn.insert({event_table(e.kind), e.id});
  }
  std::set<int64_t> lanes;
  for (const auto& l : v.lanes) lanes.insert(l.utid);
  int inside = 0;
  for (const auto& ev : c.evidence) {
    if (ev.table == "wakeup") continue;
    sqlite3_stmt* q = nullptr;
    const std::string sql = "SELECT ts, dur, utid FROM " + ev.table + " WHERE id = ?1";
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr), SQLITE_OK);
    sqlite3_bind_int64(q, 1, ev.id);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW) << ev.table << " " << ev.id;
    const int64_t ts = sqlite3_column_int64(q, 0), dur = sqlite3_column_int64(q, 1);
    const int64_t utid = sqlite3_column_int64(q, 2);
    sqlite3_finalize(q);
    if (ts >= v.end_ns || ts + dur <= v.start_ns || !lanes.count(utid)) continue;
    ++inside;
    EXPECT_TRUE(drawn.count({ev.table, ev.id})) << ev.table << " " << ev.id;
  }
  EXPECT_GT(inside, 0) << "no evidence of chain " << c.id << " in its window";
}

TEST(ReportTimelineViewsTest, NoisyNeighbourWindowShowsTheThreadAndItsPreempter) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::noisy_neighbour(path, false);
  Loaded l = load(path);
  ASSERT_FALSE(l.chains.empty());
  ASSERT_EQ(l.chains[0].category, "cpu_contention");
  auto views = build_timeline_views(l.reader->db(), l.chains, {});
  ASSERT_TRUE(views.ok()) << views.error();
  ASSERT_EQ(views->size(), std::min<size_t>(l.chains.size(), TimelineLimits{}.max_views));
  const TimelineView& v = (*views)[0];
  EXPECT_EQ(v.chain_id, l.chains[0].id);
  EXPECT_LT(v.start_ns, v.end_ns);
  EXPECT_LE(v.end_ns - v.start_ns, TimelineLimits{}.max_window_ns);
  EXPECT_LE(v.start_ns, v.focus_start_ns);
  EXPECT_GE(v.end_ns, v.focus_end_ns);
  ASSERT_GE(v.lanes.size(), 2u);
  EXPECT_EQ(v.lanes[0].thread, "train");
  EXPECT_EQ(v.lanes[0].role, "slowed thread");
  bool burner = false;
  for (const auto& lane : v.lanes) burner |= lane.thread == "burner" && !lane.traced;
  EXPECT_TRUE(burner);
  expect_evidence_drawn(l.reader->db(), l.chains[0], v);

  // This trace has no cpu_slice rows (an older recorder): runnable intervals say who held the
  // CPU is unknown and keep the task that switched in first, labelled as such. Events are in
  // lane then time order and inside (or overlapping) the window.
  bool named = false;
  for (size_t i = 0; i < v.events.size(); ++i) {
    const auto& e = v.events[i];
    EXPECT_LT(e.ts_ns, v.end_ns);
    EXPECT_GT(e.ts_ns + e.dur_ns, v.start_ns);
    if (i > 0) {
      const auto& p = v.events[i - 1];
      EXPECT_TRUE(p.lane < e.lane || (p.lane == e.lane && p.ts_ns <= e.ts_ns));
    }
    if (e.kind == EventKind::kRunnable) {
      EXPECT_EQ(e.detail.find("preempted by"), std::string::npos) << e.detail;
      named |= e.detail ==
               "who held the CPU was not recorded; switched in first: burner (tid "
               "200) · CPU 0";
    }
  }
  EXPECT_TRUE(named);
}

// The case: the helper switches in first for 200 us, the spinner holds the CPU for
// the remaining 2.8 ms; after a wakeup (no preempter at all) the spinner holds it 1.5 ms. The
// tooltips name the spinner with its time, from cpu_slice.
TEST(ReportTimelineViewsTest, RunnableTooltipsNameWhoHeldTheCpu) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::spinner_behind_helper(path);
  Loaded l = load(path);
  ASSERT_FALSE(l.chains.empty());
  auto views = build_timeline_views(l.reader->db(), l.chains, {});
  ASSERT_TRUE(views.ok()) << views.error();
  const TimelineView& v = (*views)[0];
  ASSERT_FALSE(v.lanes.empty());
  ASSERT_EQ(v.lanes[0].thread, "train");
  int preempted = 0, after_wake = 0, other = 0;
  for (const auto& e : v.events) {
    if (e.lane != 0 || e.kind != EventKind::kRunnable) continue;
    if (e.detail ==
        "CPU held by spinner (tid 1200) 2.80 ms, helper (pid 1100, tid 1101) 200 µs · CPU 0") {
      ++preempted;
    } else if (e.detail == "CPU held by spinner (tid 1200) 1.50 ms · CPU 0") {
      ++after_wake;
    } else {
      ++other;
      ADD_FAILURE() << e.detail;
    }
  }
  EXPECT_GT(preempted, 0);
  EXPECT_GT(after_wake, 0);
  EXPECT_EQ(other, 0);
  // The untraced spinner's lane shows when it held CPU 0 (its cpu_slice rows), and the
  // chain's cpu_slice evidence is drawn there.
  int spinner = -1;
  for (size_t i = 0; i < v.lanes.size(); ++i) {
    if (v.lanes[i].thread == "spinner") spinner = static_cast<int>(i);
  }
  ASSERT_GE(spinner, 0);
  EXPECT_FALSE(v.lanes[static_cast<size_t>(spinner)].traced);
  int held = 0;
  for (const auto& e : v.events) {
    if (e.lane != spinner) continue;
    EXPECT_EQ(e.kind, EventKind::kHeldCpu);
    EXPECT_EQ(e.name, "held CPU 0");
    EXPECT_EQ(std::string(event_table(e.kind)), "cpu_slice");
    ++held;
  }
  EXPECT_GT(held, 0);
  expect_evidence_drawn(l.reader->db(), l.chains[0], v);
}

// Idle and unrecorded time inside a runnable interval are stated, and more holders than the
// tooltip names are summed.
TEST(ReportTimelineViewsTest, RunnableTooltipsSayIdleUnknownAndOthers) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    testing::TraceBuilder b(path);
    b.process(10, "app");
    auto& t = b.thread(10, 10, "app", 1);
    for (int i = 0; i < 5; ++i) {
      b.process(20 + i, "task" + std::to_string(i), false);
      b.thread(20 + i, 20 + i, "task" + std::to_string(i), 1, false);
    }
    t.run(1 * testing::kMs);
    const int64_t s = t.now();
    t.runnable(10 * testing::kMs, 24, 24);  // task4 switched in first, for 100 us
    b.slice(1, s, 100 * testing::kUs, 24, 24);
    b.slice(1, s + 100 * testing::kUs, 5 * testing::kMs, 20, 20);
    b.slice(1, s + 5100 * testing::kUs, 2 * testing::kMs, 21, 21);
    b.slice(1, s + 7100 * testing::kUs, 1 * testing::kMs, 22, 22);
    b.slice(1, s + 8100 * testing::kUs, 200 * testing::kUs, 23, 23);
    b.slice(1, s + 8300 * testing::kUs, 700 * testing::kUs, 0, 0);  // idle
    // [s + 9 ms, s + 10 ms) not recorded
    t.run(1 * testing::kMs);
  }
  auto r = store::Reader::open(path);
  ASSERT_TRUE(r.ok()) << r.error();
  analyze::Chain c;
  c.id = 1;
  c.subject = {10, 10, "app", "app"};
  c.window_start_ns = 0;
  c.window_end_ns = 12 * testing::kMs;
  auto views = build_timeline_views((*r)->db(), {c}, {});
  ASSERT_TRUE(views.ok()) << views.error();
  bool found = false;
  for (const auto& e : (*views)[0].events) {
    if (e.kind != EventKind::kRunnable) continue;
    found = true;
    EXPECT_EQ(e.detail,
              "CPU held by task0 (tid 20) 5.00 ms, task1 (tid 21) 2.00 ms, task2 (tid 22) "
              "1.00 ms and 2 others 300 µs; idle 700 µs; unknown 1.00 ms · CPU 1");
  }
  EXPECT_TRUE(found);
}

TEST(ReportTimelineViewsTest, DataLoaderWindowHasLoadersIoAndWakeups) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::data_loader(path, false);
  Loaded l = load(path);
  ASSERT_FALSE(l.chains.empty());
  auto views = build_timeline_views(l.reader->db(), l.chains, {});
  ASSERT_TRUE(views.ok()) << views.error();
  const TimelineView& v = (*views)[0];
  bool loader = false, io = false, cuda = false;
  for (const auto& lane : v.lanes) loader |= lane.thread.rfind("loader-", 0) == 0;
  for (const auto& e : v.events) {
    io |= e.kind == EventKind::kBlockIo;
    cuda |= e.kind == EventKind::kCuda;
  }
  EXPECT_TRUE(loader);
  EXPECT_TRUE(io);
  EXPECT_TRUE(cuda);
  ASSERT_FALSE(v.wakeups.empty());
  bool from_loader_lane = false;
  for (const auto& w : v.wakeups) {
    EXPECT_GE(w.to_lane, 0);
    EXPECT_LT(w.to_lane, static_cast<int>(v.lanes.size()));
    if (w.from_lane >= 0) {
      from_loader_lane |= v.lanes[static_cast<size_t>(w.from_lane)].thread.rfind("loader-", 0) == 0;
    }
  }
  EXPECT_TRUE(from_loader_lane);
  expect_evidence_drawn(l.reader->db(), l.chains[0], v);
}

TEST(ReportTimelineViewsTest, CapsKeepEvidenceAndCountWhatWasLeftOut) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::host_sync(path, false);
  Loaded l = load(path);
  ASSERT_FALSE(l.chains.empty());
  TimelineLimits tight;
  tight.max_views = 1;
  tight.max_lanes = 1;
  tight.max_events = 5;
  tight.max_wakeups = 1;
  tight.max_window_ns = 200'000'000;
  auto views = build_timeline_views(l.reader->db(), l.chains, tight);
  ASSERT_TRUE(views.ok()) << views.error();
  ASSERT_EQ(views->size(), 1u);
  const TimelineView& v = (*views)[0];
  EXPECT_EQ(v.lanes.size(), 1u);
  EXPECT_GT(v.omitted_lanes, 0);
  EXPECT_LE(v.events.size(), 5u + l.chains[0].evidence.size());
  EXPECT_GT(v.omitted_events, 0);
  EXPECT_LE(v.wakeups.size(), 1u);
  EXPECT_LE(v.end_ns - v.start_ns, 200'000'000);
  int64_t evidence = 0;
  for (const auto& e : v.events) evidence += e.evidence;
  EXPECT_GT(evidence, 0);
}

TEST(ReportTimelineViewsTest, NoChainsNoViews) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::noisy_neighbour(path, true);
  Loaded l = load(path);
  auto views = build_timeline_views(l.reader->db(), {}, {});
  ASSERT_TRUE(views.ok());
  EXPECT_TRUE(views->empty());
}

TEST(ReportTimelineViewsTest, FormatsDurationsAndBytes) {
  EXPECT_EQ(format_duration(830), "830 ns");
  EXPECT_EQ(format_duration(12'400), "12.4 \xC2\xB5s");
  EXPECT_EQ(format_duration(1'250'000), "1.25 ms");
  EXPECT_EQ(format_duration(2'400'000'000), "2.40 s");
  // A crafted ts of -2^63: -INT64_MIN overflows, and `report` recursed forever (issue 16).
  const std::string min = format_duration(INT64_MIN);
  EXPECT_EQ(min.front(), '-') << min;
  EXPECT_EQ(min.substr(min.size() - 2), " s") << min;
  EXPECT_EQ(format_duration(-830), "-830 ns");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(64 * 1024), "64.0 KiB");
  EXPECT_EQ(format_bytes(int64_t{3} << 30), "3.0 GiB");
}

}  // namespace
}  // namespace causeway::report

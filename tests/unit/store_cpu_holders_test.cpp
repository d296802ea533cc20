// runnable_holders_sql / CpuHolders on a synthetic trace where the task that switched in
// first (thread_state.preempter) is not the one that held the CPU for most of the wait.
#include "store/cpu_holders.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>

#include "fixtures/trace_builder.h"
#include "support/test_support.h"

namespace causeway::store {
namespace {

using testing::TraceBuilder;

std::string ns_text(int64_t ns) {
  return std::to_string(ns) + " ns";
}

class CpuHoldersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("holders.db");
    TraceBuilder b(path_);
    b.process(10, "decoder");
    auto& dec = b.thread(10, 10, "decoder", 0);
    b.thread(10, 12, "helper", 0);
    b.process(20, "spinner", false);
    b.thread(20, 20, "spinner", 0, false);
    b.process(30, "other", false);
    b.thread(30, 30, "other", 0, false);
    b.process(40, "elsewhere", false);
    b.thread(40, 40, "elsewhere", 1, false);
    dec.run(100);
    // Runnable [100, 1100) on CPU 0; the helper switched in first.
    runnable_ = dec.runnable(1000, 10, 12);
    dec.run(100);
    // Runnable [1200, 1500) on CPU 2: no slice recorded there.
    dec.set_cpu(2);
    unrecorded_ = dec.runnable(300, 10, 12);
    b.slice(0, 0, 120, 20, 20);    // straddles the start: 20 inside
    b.slice(0, 120, 50, 10, 12);   // helper 50
    b.slice(0, 170, 730, 20, 20);  // spinner 730
    b.slice(0, 900, 50, 0, 0);     // idle 50
    // [950, 1000) not recorded: unknown 50
    b.slice(0, 1000, 30, 30, 30);   // other 30
    b.slice(0, 1030, 30, 10, 10);   // the decoder itself (clock skew): unknown 30
    b.slice(0, 1060, 140, 20, 20);  // straddles the end: 40 inside
    b.slice(1, 0, 5000, 40, 40);    // another CPU: never counted
    b.close();
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  void TearDown() override { sqlite3_close(db_); }

  std::map<int64_t, CpuHolders> read(bool grouped) {
    sql::Stmt s(db_, runnable_holders_sql("x.ts < ?1 AND x.ts + x.dur > ?2", grouped));
    EXPECT_TRUE(s.ok()) << s.error();
    s.bind(1, int64_t{1'000'000});
    s.bind(2, int64_t{0});
    std::map<int64_t, CpuHolders> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      HolderRow r = read_holder_row(s);
      CpuHolders& h = out[r.state_id];
      h.span_ns = r.state_dur;
      h.add(r.holder, r.ns);
    }
    EXPECT_EQ(rc, SQLITE_DONE);
    for (auto& [id, h] : out) h.finish();
    return out;
  }

  causeway::testing::TempDir dir_;
  std::string path_;
  sqlite3* db_ = nullptr;
  RowId runnable_ = 0, unrecorded_ = 0;
};

TEST_F(CpuHoldersTest, NamesWhoHeldTheCpuNotWhoSwitchedInFirst) {
  for (bool grouped : {false, true}) {
    SCOPED_TRACE(grouped ? "grouped" : "pieces");
    auto all = read(grouped);
    ASSERT_EQ(all.count(runnable_), 1u);
    // No slice on CPU 2: no rows at all for that interval (the caller says "not recorded").
    EXPECT_EQ(all.count(unrecorded_), 0u);
    const CpuHolders& h = all[runnable_];
    EXPECT_EQ(h.span_ns, 1000);
    ASSERT_EQ(h.holders.size(), 3u);
    EXPECT_EQ(h.holders[0].comm, "spinner");
    EXPECT_EQ(h.holders[0].tid, 20);
    EXPECT_EQ(h.holders[0].pid, 20);
    EXPECT_FALSE(h.holders[0].traced);
    EXPECT_EQ(h.holders[0].ns, 790);
    EXPECT_EQ(h.holders[1].comm, "helper");
    EXPECT_EQ(h.holders[1].pid, 10);
    EXPECT_EQ(h.holders[1].ns, 50);
    EXPECT_TRUE(h.holders[1].traced);
    EXPECT_EQ(h.holders[2].comm, "other");
    EXPECT_EQ(h.holders[2].ns, 30);
    EXPECT_EQ(h.idle_ns, 50);
    EXPECT_EQ(h.unknown_ns, 80);  // the gap and the thread's own (skewed) slice
    EXPECT_TRUE(h.recorded());
    EXPECT_EQ(describe_holders(h, 2, ns_text),
              "CPU held by spinner (tid 20) 790 ns, helper (pid 10, tid 12) 50 ns and 1 other "
              "30 ns; idle 50 ns; unknown 80 ns");
    EXPECT_EQ(describe_holders(h, 5, ns_text),
              "CPU held by spinner (tid 20) 790 ns, helper (pid 10, tid 12) 50 ns, other (tid "
              "30) 30 ns; idle 50 ns; unknown 80 ns");
  }
}

TEST(CpuHolders, NothingRecordedIsSaidSo) {
  CpuHolders h;
  h.span_ns = 500;
  h.finish();
  EXPECT_FALSE(h.recorded());
  EXPECT_EQ(h.unknown_ns, 500);
  EXPECT_EQ(describe_holders(h, 3, ns_text), "who held the CPU was not recorded");
}

TEST(CpuHolders, IdleOnlyAndOverlongPiecesStayConsistent) {
  CpuHolders h;
  h.span_ns = 100;
  h.add(std::nullopt, 60);
  h.add(std::nullopt, 0);  // empty pieces are ignored
  h.finish();
  EXPECT_TRUE(h.recorded());
  EXPECT_EQ(h.idle_ns, 60);
  EXPECT_EQ(h.unknown_ns, 40);
  EXPECT_EQ(describe_holders(h, 3, ns_text), "CPU idle 60 ns; unknown 40 ns");
  // Overlapping slices (bad data) can cover more than the span: unknown stays at 0.
  CpuHolders o;
  o.span_ns = 10;
  CpuHolder a;
  a.utid = 7;
  a.tid = 7;
  a.comm = "a";
  o.add(a, 8);
  o.add(a, 8);
  o.finish();
  EXPECT_EQ(o.holders.at(0).ns, 16);
  EXPECT_EQ(o.unknown_ns, 0);
}

}  // namespace
}  // namespace causeway::store

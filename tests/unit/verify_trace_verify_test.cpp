// verify_trace: a consistent trace passes every check; each kind of violation, injected on
// purpose into that trace, is found by its check (and only it), named by row ids and times.
// Also: the per-kind example cap, skipped checks on older or lossy traces, stopping.
#include "verify/trace_verify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixtures/sched_trace.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using store::ThreadState;
using store::WakerContext;
using verify::CheckResult;
using verify::VerifyReport;

// Exact coverage unless a slack is asked for: these traces are in nanoseconds.
VerifyReport run_verify(const std::string& path, int max_per_kind = 20, int64_t slack_ns = 0) {
  auto reader = store::Reader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error();
  if (!reader.ok()) return {};
  verify::VerifyOptions opts;
  opts.max_per_kind = max_per_kind;
  opts.queueing_slack_ns = slack_ns;
  auto report = verify::verify_trace((*reader)->db(), opts);
  EXPECT_TRUE(report.ok()) << report.error();
  return report.ok() ? *report : VerifyReport{};
}

const CheckResult& check(const VerifyReport& r, const std::string& name) {
  for (const CheckResult& c : r.checks) {
    if (c.name == name) return c;
  }
  static const CheckResult kNone;
  ADD_FAILURE() << "no check named " << name;
  return kNone;
}

// The names of the checks that found violations, space-separated.
std::string failing(const VerifyReport& r) {
  std::string out;
  for (const CheckResult& c : r.checks) {
    if (c.violations > 0) out += (out.empty() ? "" : " ") + c.name;
  }
  return out;
}

std::string id(int64_t v) {
  return std::to_string(v);
}

TEST(VerifyTraceTest, ConsistentTracePassesEveryCheck) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  const SchedTraceIds ids = consistent_sched_trace(db);
  exec_sql(db,
           "INSERT INTO causal_chain VALUES (1, 'high', 'cpu_contention', 'thread', 100, 100, "
           "'trainer', NULL, 1000, 's', '{\"evidence\": [{\"table\": \"thread_state\", \"id\": " +
               id(ids.a_runnable) + "}, {\"table\": \"cuda_call\", \"id\": " + id(ids.call) +
               "}]}')");
  const VerifyReport r = run_verify(db);
  EXPECT_TRUE(r.ok()) << verify::violation_text(r);
  EXPECT_EQ(verify::violation_text(r), "");
  ASSERT_EQ(r.checks.size(), 7u);
  for (const CheckResult& c : r.checks) EXPECT_EQ(c.skipped, "") << c.name;
  // The fixture's tid 300 was reused: two thread rows, one check that did not object.
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM thread WHERE tid = 300"), 2);
}

TEST(VerifyTraceTest, TwoThreadsRunningOnOneCpu) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  store::RowId bad = 0;
  consistent_sched_trace(db, [&](SchedTrace& t) { bad = t.running(100, 101, 0, 500, 100); });
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "cpu_exclusive thread_intervals");
  const CheckResult& c = check(r, "cpu_exclusive");
  // The row overlaps A's run (and the slice naming A): two sentences, one per kind.
  EXPECT_EQ(c.violations, 2);
  ASSERT_FALSE(c.examples.empty());
  EXPECT_NE(c.examples[0].find("thread_state " + id(bad) + " has utid"), std::string::npos)
      << c.examples[0];
  EXPECT_NE(c.examples[0].find("running on cpu 0 over 500..600 ns while thread_state 1 "),
            std::string::npos)
      << c.examples[0];
  // B's own earlier interval on cpu 1 covers 0..3500: the same thread in two places.
  EXPECT_EQ(check(r, "thread_intervals").violations, 1);
}

TEST(VerifyTraceTest, OverlappingCpuSlices) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  store::RowId bad = 0;
  consistent_sched_trace(db, [&](SchedTrace& t) { bad = t.slice(3, 50, 100, 200, 200); });
  exec_sql(db, "INSERT INTO cpu_slice (ts, dur, cpu, utid) VALUES (100, 10, 3, NULL)");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "cpu_exclusive");
  const CheckResult& c = check(r, "cpu_exclusive");
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_NE(c.examples[0].find("(cpu 3, idle, 100..110 ns) overlaps cpu_slice " + id(bad) +
                               " (cpu 3, utid "),
            std::string::npos)
      << c.examples[0];
}

TEST(VerifyTraceTest, SliceNamingAnotherTaskWhileATracedThreadRuns) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  // A ran on cpu 0 over 2000..3000; say the untraced burner held it for part of that.
  exec_sql(db,
           "UPDATE cpu_slice SET utid = (SELECT utid FROM thread WHERE tid = 200) WHERE cpu = 0 "
           "AND ts = 2000");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "cpu_exclusive");
  const CheckResult& c = check(r, "cpu_exclusive");
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_NE(c.examples[0].find("held cpu 0, but thread_state"), std::string::npos) << c.examples[0];
  EXPECT_NE(c.examples[0].find("running there over 2000..3000 ns"), std::string::npos)
      << c.examples[0];
}

TEST(VerifyTraceTest, OverlappingIntervalsOfOneThreadAndNegativeDuration) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  store::RowId bad = 0;
  consistent_sched_trace(
      db, [&](SchedTrace& t) { bad = t.state(100, 100, ThreadState::kSleeping, 5, 4500, 1000); });
  exec_sql(db, "UPDATE thread_state SET dur = -5 WHERE id = 1");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "thread_intervals");
  const CheckResult& c = check(r, "thread_intervals");
  ASSERT_EQ(c.examples.size(), 2u);
  EXPECT_EQ(c.examples[0],
            "thread_state 1 (utid 1, running from 0 ns) has a negative duration (-5 ns).");
  EXPECT_NE(c.examples[1].find("thread_state " + id(bad) +
                               " (utid 1, sleeping over 4500..5500 ns) overlaps thread_state"),
            std::string::npos)
      << c.examples[1];
  EXPECT_NE(c.examples[1].find("(running over 4000..5000 ns) of the same thread"),
            std::string::npos)
      << c.examples[1];
}

TEST(VerifyTraceTest, RunnableIntervalWithoutCpuHolderReportsTheUncoveredTime) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  const SchedTraceIds ids = consistent_sched_trace(db);
  // Remove the idle slice 3800..4000 of cpu 1: B's wait 3500..4000 has 200 ns unexplained.
  exec_sql(db, "DELETE FROM cpu_slice WHERE cpu = 1 AND ts = 3800");
  VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "runnable_coverage");
  const CheckResult& c = check(r, "runnable_coverage");
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_EQ(c.examples[0], "thread_state " + id(ids.b_runnable) +
                               " (utid 2 runnable on cpu 1 over 3500..4000 ns) has 200 ns with no "
                               "cpu_slice of cpu 1 (first gap 3800..4000 ns).");
  // With scheduler events lost, gaps are expected: the check is skipped, not failed.
  exec_sql(db, "INSERT OR REPLACE INTO meta VALUES ('drops', '{\"sched\": 3, \"cuda\": 0}')");
  r = run_verify(db);
  EXPECT_TRUE(r.ok()) << verify::violation_text(r);
  EXPECT_NE(check(r, "runnable_coverage").skipped.find("lost 3 scheduler events"),
            std::string::npos);
  // A recorder killed before its end left no event_counts (its missed switches unknown):
  // skipped too. A complete trace without them (a writer that does not count) is checked.
  exec_sql(db, "DELETE FROM meta WHERE key IN ('drops', 'event_counts')");
  r = run_verify(db);
  EXPECT_EQ(failing(r), "runnable_coverage");
  exec_sql(db, "UPDATE meta SET value = '0' WHERE key = 'complete'");
  r = run_verify(db);
  EXPECT_TRUE(r.ok()) << verify::violation_text(r);
  EXPECT_NE(check(r, "runnable_coverage").skipped.find("it was killed"), std::string::npos);
}

TEST(VerifyTraceTest, RunnableBeforeTheFirstSliceOfItsCpuIsNotHeldAgainstTheTrace) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db, [](SchedTrace& t) {
    // On cpu 4, the first slice starts at 1000: a wait from 900 began before it.
    t.runnable(100, 101, 4, 900, 200, 200, 200);
    t.slice(4, 1000, 100, 200, 200);
    // A later wait on cpu 4 with no holder at all is a violation.
    t.runnable(300, 300, 4, 3000, 100, 200, 200);
  });
  const VerifyReport r = run_verify(db);
  const CheckResult& c = check(r, "runnable_coverage");
  EXPECT_EQ(c.violations, 1) << verify::violation_text(r);
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_NE(c.examples[0].find("over 3000..3100 ns) has 100 ns with no cpu_slice of cpu 4"),
            std::string::npos)
      << c.examples[0];
}

// The first instants of a wait may have no known holder (the recorder learns it at the next
// switch): within the slack that is a note; past it, or later in the wait, a violation.
TEST(VerifyTraceTest, UnknownHolderAtTheVeryStartOfAWaitIsAcceptedWithinTheSlack) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db, [](SchedTrace& t) {
    t.slice(4, 1000, 100, 200, 200);
    t.runnable(300, 300, 4, 3000, 100, 200, 200);  // 100 ns, none of it covered
  });
  VerifyReport r = run_verify(db, 20, 100);
  const CheckResult& within = check(r, "runnable_coverage");
  EXPECT_EQ(within.violations, 0) << verify::violation_text(r);
  ASSERT_EQ(within.notes.size(), 1u);
  EXPECT_NE(within.notes[0].find("1 runnable intervals had their first microseconds"),
            std::string::npos)
      << within.notes[0];
  r = run_verify(db, 20, 99);
  EXPECT_EQ(check(r, "runnable_coverage").violations, 1);
}

TEST(VerifyTraceTest, RunnableOnACpuWithNoSlicesAtAll) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db, [](SchedTrace& t) { t.runnable(100, 101, 6, 6000, 10, 200, 200); });
  const VerifyReport r = run_verify(db);
  const CheckResult& c = check(r, "runnable_coverage");
  ASSERT_EQ(c.examples.size(), 1u);
  EXPECT_NE(c.examples[0].find("(cpu 6 has no cpu_slice rows at all)"), std::string::npos)
      << c.examples[0];
}

TEST(VerifyTraceTest, TracesWithoutCpuSlicesSkipTheSliceChecksWithANote) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  exec_sql(db, "DELETE FROM cpu_slice");
  VerifyReport r = run_verify(db);
  EXPECT_TRUE(r.ok()) << verify::violation_text(r);
  EXPECT_NE(check(r, "runnable_coverage").skipped.find("no cpu_slice rows"), std::string::npos);
  EXPECT_EQ(check(r, "cpu_exclusive").notes.size(), 1u);
  exec_sql(db, "DROP TABLE cpu_slice");
  r = run_verify(db);
  EXPECT_TRUE(r.ok()) << verify::violation_text(r);
  EXPECT_NE(check(r, "runnable_coverage").skipped.find("no cpu_slice table"), std::string::npos);
}

TEST(VerifyTraceTest, TwoLiveRowsForOneTidOrPid) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  // A second row for live tid 100, and one for pid 200 while the first is alive.
  exec_sql(
      db,
      "INSERT INTO thread (utid, tid, upid, name, start_ts, traced) VALUES (90, 100, 1, "
      "'dup', 2500, 1);"
      "INSERT INTO process (upid, pid, name, start_ts, traced) VALUES (80, 200, 'dup', 10, 0)");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "unique_live_ids");
  const CheckResult& c = check(r, "unique_live_ids");
  ASSERT_EQ(c.examples.size(), 2u);
  EXPECT_NE(c.examples[0].find("thread utid 90 (tid 100, lifetime [2500, still alive]) and "
                               "thread utid 1 (tid 100, lifetime [unknown start, still alive]) "
                               "are both alive at once"),
            std::string::npos)
      << c.examples[0];
  EXPECT_NE(c.examples[1].find("process upid 80 (pid 200"), std::string::npos) << c.examples[1];
}

TEST(VerifyTraceTest, ReusedTidStartingBeforeTheOldOneEnded) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  // The second tid-300 row claims to start at 400, before the first ended (500).
  exec_sql(db, "UPDATE thread SET start_ts = 400 WHERE tid = 300 AND start_ts = 2000");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "unique_live_ids");
  ASSERT_EQ(check(r, "unique_live_ids").examples.size(), 1u);
  EXPECT_NE(check(r, "unique_live_ids").examples[0].find("lifetime [400, still alive]) and "),
            std::string::npos);
}

TEST(VerifyTraceTest, ReferencesToMissingThreadsAndProcesses) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  const SchedTraceIds ids = consistent_sched_trace(db);
  exec_sql(db, "UPDATE thread_state SET waker_utid = 999 WHERE id = " + id(ids.a_sleep) +
                   ";"
                   "UPDATE thread_state SET preempter_utid = 998 WHERE id = " +
                   id(ids.a_runnable) +
                   ";"
                   "UPDATE wakeup SET wakee_utid = 997 WHERE id = " +
                   id(ids.wake_timer) +
                   ";"
                   "UPDATE cuda_call SET utid = 996 WHERE id = " +
                   id(ids.call) +
                   ";"
                   "UPDATE syscall SET utid = 995 WHERE id = " +
                   id(ids.syscall) +
                   ";"
                   "UPDATE cpu_slice SET utid = 994 WHERE cpu = 2 AND ts = 100;"
                   "UPDATE thread SET upid = 993 WHERE tid = 201");
  const VerifyReport r = run_verify(db);
  const CheckResult& c = check(r, "references");
  EXPECT_EQ(c.violations, 7) << verify::violation_text(r);
  const std::string all = verify::violation_text(r);
  for (const std::string& want : std::vector<std::string>{
           "thread_state " + id(ids.a_sleep) + " has waker_utid 999, but thread has no utid 999.",
           "thread_state " + id(ids.a_runnable) + " has preempter_utid 998",
           "wakeup " + id(ids.wake_timer) + " has wakee_utid 997",
           "cuda_call " + id(ids.call) + " has utid 996",
           "syscall " + id(ids.syscall) + " has utid 995",
           "has utid 994, but thread has no utid 994.",
           "has upid 993, but process has no upid 993."}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  }
}

TEST(VerifyTraceTest, ChainEvidenceCitingMissingRows) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  const SchedTraceIds ids = consistent_sched_trace(db);
  exec_sql(db,
           "INSERT INTO causal_chain VALUES (1, 'high', 'host_sync', 'slow_calls', 100, 100, "
           "'trainer', NULL, 1000, 's', '{\"evidence\": [{\"table\": \"cuda_call\", \"id\": " +
               id(ids.call) +
               "}, {\"table\": \"cuda_call\", \"id\": 4242}, {\"table\": \"nope\", \"id\": 1}, "
               "{\"id\": 3}]}');"
               "INSERT INTO causal_chain VALUES (2, 'low', 'x', NULL, NULL, NULL, NULL, NULL, 0, "
               "'s', 'not json')");
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "chain_evidence");
  const CheckResult& c = check(r, "chain_evidence");
  ASSERT_EQ(c.examples.size(), 4u) << verify::violation_text(r);
  EXPECT_EQ(c.examples[0],
            "causal_chain 1 cites cuda_call 4242 as evidence, but cuda_call has no row with id "
            "4242.");
  EXPECT_EQ(c.examples[1],
            "causal_chain 1 cites nope 1, but the trace has no event table named nope.");
  EXPECT_NE(c.examples[2].find("causal_chain 1 has an evidence entry without a table name"),
            std::string::npos);
  EXPECT_EQ(c.examples[3], "causal_chain 2 has a json column that is not a JSON object.");
}

TEST(VerifyTraceTest, WakerContextDisagreeingWithWakerUtid) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  const SchedTraceIds ids = consistent_sched_trace(db);
  exec_sql(db, "UPDATE wakeup SET waker_utid = NULL WHERE id = " + id(ids.wake_task) +
                   ";"
                   "UPDATE wakeup SET waker_utid = 2 WHERE id = " +
                   id(ids.wake_timer) +
                   ";"
                   "UPDATE thread_state SET waker_context = 9 WHERE id = " +
                   id(ids.a_sleep));
  const VerifyReport r = run_verify(db);
  EXPECT_EQ(failing(r), "waker_context");
  const std::string all = verify::violation_text(r);
  EXPECT_EQ(all, "thread_state " + id(ids.a_sleep) +
                     " has waker_context 9, which is not 0..4.\n"
                     "wakeup " +
                     id(ids.wake_task) +
                     " has waker_context 0 (task) but no waker_utid: a task wakeup names the "
                     "task that woke it.\n"
                     "wakeup " +
                     id(ids.wake_timer) +
                     " has waker_context 3 (timer) but waker_utid 2: only a task wakeup (0) "
                     "names a waker.\n");
}

TEST(VerifyTraceTest, ManyViolationsOfOneKindAreSummarisedByCount) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db, [](SchedTrace& t) {
    for (int i = 0; i < 7; ++i) t.running(100, 101, 0, 100 + i * 100, 50);
  });
  const VerifyReport r = run_verify(db, 2);
  const CheckResult& c = check(r, "cpu_exclusive");
  EXPECT_EQ(c.violations, 14);  // each row: a running overlap and a contradicting slice
  EXPECT_EQ(c.examples.size(), 4u);
  ASSERT_EQ(c.summaries.size(), 2u);
  EXPECT_EQ(c.summaries[0],
            "... and 5 more cpu_slice rows naming another holder during a traced thread's run.");
  EXPECT_EQ(c.summaries[1],
            "... and 5 more running intervals of different threads overlapping on one CPU.");
  const nlohmann::json j = verify::to_json(r);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["checks"][0]["name"], "cpu_exclusive");
  EXPECT_EQ(j["checks"][0]["violations"], 14);
  EXPECT_EQ(j["checks"][0]["examples"].size(), 4u);
}

TEST(VerifyTraceTest, StopsWhenAsked) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  auto reader = store::Reader::open(db);
  ASSERT_TRUE(reader.ok());
  verify::VerifyOptions opts;
  opts.should_stop = [] { return true; };
  auto report = verify::verify_trace((*reader)->db(), opts);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error(), "The verification was stopped before it finished.");
}

TEST(VerifyTraceTest, TextEndsWithOneVerdictLine) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  consistent_sched_trace(db);
  std::string text = verify::format_text(run_verify(db), "t.db");
  EXPECT_EQ(text.substr(text.rfind('\n', text.size() - 2) + 1), "OK: t.db passed 7 of 7 checks.\n");
  exec_sql(db, "UPDATE thread SET upid = 993 WHERE tid = 201");
  text = verify::format_text(run_verify(db), "t.db");
  EXPECT_EQ(text.substr(text.rfind('\n', text.size() - 2) + 1),
            "FAILED: t.db has 1 violation in 1 of 7 checks.\n");
}

}  // namespace
}  // namespace causeway::testing

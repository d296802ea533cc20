// Causal chains: ranking and assembly (src/analyze/chains.cpp) on synthetic traces — outlier
// decomposition against baselines, ties, empty traces, traces without CUDA calls, filters,
// evidence, the recorder never a culprit, JSON. Each category has its own
// analyze_detect_<category>_test.cpp.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>

#include "analyze/chains.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

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

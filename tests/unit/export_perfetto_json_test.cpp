// write_perfetto_json on fixture traces: valid JSON, well-formed slices, nesting per track,
// paired flows, the track layout, windows, --pid, overlap lanes and causal-chain regions.
#include "export/perfetto_json.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "analyze/chain_store.h"
#include "export/validate.h"
#include "fixtures/scenarios.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using timeline::ExportOptions;
using timeline::ExportSummary;
using timeline::track_tid;
using timeline::TrackKind;

struct Exported {
  ExportSummary summary;
  nlohmann::json doc;
};

Exported export_db(const std::string& db, const ExportOptions& opts = {}) {
  auto reader = store::Reader::open(db);
  EXPECT_TRUE(reader.ok()) << reader.error();
  std::FILE* f = std::tmpfile();
  auto sum = timeline::write_perfetto_json((*reader)->db(), opts, f);
  EXPECT_TRUE(sum.ok()) << sum.error();
  std::rewind(f);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  Exported e;
  if (sum.ok()) e.summary = *sum;
  EXPECT_EQ(static_cast<int64_t>(text.size()), e.summary.bytes);
  e.doc = nlohmann::json::parse(text);  // throws (fails the test) on invalid JSON
  return e;
}

int64_t count(const std::string& db, const std::string& sql) {
  auto reader = store::Reader::open(db);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2((*reader)->db(), sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
  int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

std::vector<nlohmann::json> events(const nlohmann::json& doc, const std::string& ph,
                                   const std::string& cat = "") {
  std::vector<nlohmann::json> out;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == ph && (cat.empty() || e.value("cat", "") == cat)) out.push_back(e);
  }
  return out;
}

std::string problems_of(const nlohmann::json& doc) {
  std::string all;
  for (const auto& p : timeline::validate_trace_events(doc)) all += p + "\n";
  return all;
}

const std::vector<std::pair<std::string, std::function<void(const std::string&, bool)>>>
    kScenarios = {{"noisy_neighbour", scenarios::noisy_neighbour},
                  {"data_loader", scenarios::data_loader},
                  {"host_sync", scenarios::host_sync},
                  {"allocator_churn", scenarios::allocator_churn},
                  {"pageable_copy", scenarios::pageable_copy},
                  {"lock_wait", scenarios::lock_wait},
                  {"spinner_behind_helper", [](const std::string& path, bool) {
                     scenarios::spinner_behind_helper(path, true);
                   }}};

TEST(ExportPerfettoJsonTest, EveryScenarioExportsWellFormedAndComplete) {
  for (const auto& [name, build] : kScenarios) {
    SCOPED_TRACE(name);
    TempDir dir;
    const std::string db = dir.file("trace.db");
    build(db, false);
    Exported e = export_db(db);
    EXPECT_EQ(problems_of(e.doc), "");
    // Nothing is lost: every row is one slice.
    EXPECT_EQ(e.summary.cuda_calls, count(db, "SELECT count(*) FROM cuda_call"));
    EXPECT_EQ(e.summary.thread_states, count(db, "SELECT count(*) FROM thread_state"));
    EXPECT_EQ(e.summary.syscalls, count(db, "SELECT count(*) FROM syscall"));
    EXPECT_EQ(e.summary.block_ios, count(db, "SELECT count(*) FROM block_io"));
    EXPECT_EQ(e.summary.cpu_slices, count(db, "SELECT count(*) FROM cpu_slice"));
    EXPECT_EQ(static_cast<int64_t>(events(e.doc, "X", "cpu").size()), e.summary.cpu_slices);
    EXPECT_EQ(static_cast<int64_t>(events(e.doc, "X", "cuda").size()), e.summary.cuda_calls);
    EXPECT_EQ(static_cast<int64_t>(events(e.doc, "X", "sched").size()), e.summary.thread_states);
    EXPECT_EQ(static_cast<int64_t>(events(e.doc, "s").size()), e.summary.flows);
    EXPECT_EQ(e.summary.flows,
              count(db,
                    "SELECT count(*) FROM wakeup w JOIN thread t ON t.utid = w.waker_utid "
                    "WHERE t.traced = 1"));
    EXPECT_EQ(e.doc["displayTimeUnit"], "ns");
  }
}

TEST(ExportPerfettoJsonTest, TracksAndArguments) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::data_loader(db, false);
  Exported e = export_db(db);
  ASSERT_EQ(problems_of(e.doc), "");
  // Names of processes and tracks.
  std::map<std::pair<int64_t, int64_t>, std::string> names;
  auto name_of = [&](int64_t pid, int64_t tid) { return names[{pid, tid}]; };
  for (const auto& m : events(e.doc, "M")) {
    if (m["name"] == "thread_name") names[{m["pid"], m["tid"]}] = m["args"]["name"];
    if (m["name"] == "process_name") names[{m["pid"], -1}] = m["args"]["name"];
  }
  EXPECT_EQ(name_of(300, -1), "python");
  EXPECT_EQ(name_of(300, 300), "train");
  EXPECT_EQ(name_of(300, track_tid(300, TrackKind::kState, 0)), "train [state]");
  EXPECT_EQ(name_of(300, track_tid(310, TrackKind::kSyscall, 0)), "loader-0 [syscalls]");
  // CUDA slices sit on the thread's own track with their arguments, ts/dur in µs.
  bool copy_seen = false;
  for (const auto& x : events(e.doc, "X", "cuda")) {
    EXPECT_EQ(x["tid"], 300);
    if (x["name"] == "cudaMemcpyAsync" && !copy_seen) {
      copy_seen = true;
      EXPECT_EQ(x["args"]["bytes"], 1 << 20);
      EXPECT_EQ(x["args"]["copy_kind"], "HtoD");
      EXPECT_EQ(x["args"]["stream"], "0x10");
      EXPECT_EQ(x["args"]["host_ptr"], "0x5000000");
      EXPECT_EQ(x["args"]["ret"], 0);
      EXPECT_DOUBLE_EQ(x["dur"].get<double>(), 30.0);
    }
  }
  EXPECT_TRUE(copy_seen);
  // Blocked states name their syscall and waker; the loader's disk waits are D in pread64.
  bool futex_seen = false, disk_seen = false;
  for (const auto& x : events(e.doc, "X", "sched")) {
    if (x["tid"] == track_tid(300, TrackKind::kState, 0) && x["name"] == "sleeping (futex)" &&
        x["args"].contains("woken_by") &&
        x["args"]["woken_by"].get<std::string>().find("loader-") == 0) {
      futex_seen = true;
    }
    if (x["name"] == "uninterruptible (pread64)") disk_seen = true;
  }
  EXPECT_TRUE(futex_seen);
  EXPECT_TRUE(disk_seen);
  // Block I/O: per-process, per-device track named after the device.
  auto io = events(e.doc, "X", "block_io");
  ASSERT_FALSE(io.empty());
  EXPECT_EQ(io[0]["args"]["device"], "8:0");
  EXPECT_EQ(name_of(300, io[0]["tid"]), "block I/O 8:0");
  // Flows from the loader's state track to the trainer's.
  bool flow_seen = false;
  std::map<int64_t, nlohmann::json> starts;
  for (const auto& s : events(e.doc, "s")) starts[s["id"]] = s;
  for (const auto& f : events(e.doc, "f")) {
    const auto& s = starts[f["id"]];
    if (f["tid"] == track_tid(300, TrackKind::kState, 0) &&
        (s["tid"] == track_tid(310, TrackKind::kState, 0) ||
         s["tid"] == track_tid(311, TrackKind::kState, 0))) {
      flow_seen = true;
    }
  }
  EXPECT_TRUE(flow_seen);
}

// A trace without cpu_slice rows (an older recorder) does not know who held the CPU: the
// task that switched in first is kept, labelled as only that.
TEST(ExportPerfettoJsonTest, RunnableWithoutCpuRecordSaysTheHolderIsUnknown) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::noisy_neighbour(db, false);
  Exported e = export_db(db);
  int runnable = 0;
  for (const auto& x : events(e.doc, "X", "sched")) {
    if (x["args"]["state"] == "runnable") {
      EXPECT_EQ(x["name"], "runnable (CPU holder unknown)");
      EXPECT_EQ(x["args"]["cpu_held_by"], "who held the CPU was not recorded");
      EXPECT_EQ(x["args"]["switched_in_first"], "burner (tid 200)");
      EXPECT_FALSE(x["args"].contains("holders"));
      EXPECT_FALSE(x["args"].contains("preempted_by"));
      ++runnable;
    }
  }
  EXPECT_EQ(runnable, 160);
  EXPECT_EQ(e.summary.cpu_slices, 0);
}

// The issue's case: the helper switches in first for 200 us, the spinner holds the CPU for
// the other 2.8 ms (and for 1.5 ms after each wakeup, where nothing switched in first).
TEST(ExportPerfettoJsonTest, RunnableNamesWhoHeldTheCpu) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::spinner_behind_helper(db, true);
  Exported e = export_db(db);
  ASSERT_EQ(problems_of(e.doc), "");
  int preempted = 0, after_wake = 0;
  for (const auto& x : events(e.doc, "X", "sched")) {
    if (x["args"]["state"] != "runnable") continue;
    const auto& a = x["args"];
    EXPECT_EQ(x["name"], "runnable (CPU held by spinner)");
    ASSERT_TRUE(a.contains("holders")) << x.dump();
    EXPECT_EQ(a["holders"][0]["task"], "spinner (tid 1200)");
    EXPECT_EQ(a["holders"][0]["traced"], false);
    EXPECT_EQ(a["cpu_idle_ns"], 0);
    EXPECT_EQ(a["cpu_unknown_ns"], 0);
    if (a.contains("switched_in_first")) {
      EXPECT_EQ(a["switched_in_first"], "helper (pid 1100, tid 1101)");
      EXPECT_EQ(a["holders"][0]["ns"], 2800 * kUs);
      ASSERT_EQ(a["holders"].size(), 2u);
      EXPECT_EQ(a["holders"][1]["task"], "helper (pid 1100, tid 1101)");
      EXPECT_EQ(a["holders"][1]["ns"], 200 * kUs);
      EXPECT_EQ(a["cpu_held_by"],
                "CPU held by spinner (tid 1200) 2800000 ns, helper (pid 1100, tid 1101) 200000 "
                "ns");
      ++preempted;
    } else {
      EXPECT_EQ(a["holders"][0]["ns"], 1500 * kUs);
      EXPECT_EQ(a["holders"].size(), 1u);
      ++after_wake;
    }
  }
  EXPECT_EQ(preempted, 60);
  EXPECT_EQ(after_wake, 30);
  // Per-CPU tracks show who ran on CPU 0, in a pseudo process of their own.
  std::set<std::string> on_cpu0;
  for (const auto& x : events(e.doc, "X", "cpu")) {
    EXPECT_EQ(x["tid"], track_tid(0, TrackKind::kCpu, 0));
    on_cpu0.insert(x["name"].get<std::string>());
  }
  EXPECT_EQ(on_cpu0, (std::set<std::string>{"train", "helper", "spinner"}));
  bool named = false;
  for (const auto& m : events(e.doc, "M")) {
    named |= m["name"] == "thread_name" && m["args"]["name"] == "CPU 0" &&
             m["tid"] == track_tid(0, TrackKind::kCpu, 0);
  }
  EXPECT_TRUE(named);
}

// Idle and unrecorded time are stated; holders beyond the listed five are summed.
TEST(ExportPerfettoJsonTest, RunnableSaysIdleUnknownAndOtherHolders) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  {
    TraceBuilder b(db);
    b.process(10, "app");
    auto& t = b.thread(10, 10, "app", 1);
    for (int i = 0; i < 7; ++i) {
      b.process(20 + i, "task" + std::to_string(i), false);
      b.thread(20 + i, 20 + i, "task" + std::to_string(i), 1, false);
    }
    t.run(kMs);
    const int64_t s = t.now();
    t.runnable(10 * kMs, 0, 0);
    int64_t at = s;
    for (int i = 0; i < 7; ++i) {  // task0 1 ms, task1 0.9 ms, ... task6 0.4 ms
      b.slice(1, at, (10 - i) * 100 * kUs, 20 + i, 20 + i);
      at += (10 - i) * 100 * kUs;
    }
    b.slice(1, at, 2 * kMs, 0, 0);  // idle; the rest of the interval is not recorded
    t.run(kMs);
  }
  Exported e = export_db(db);
  int runnable = 0;
  for (const auto& x : events(e.doc, "X", "sched")) {
    if (x["args"]["state"] != "runnable") continue;
    ++runnable;
    const auto& a = x["args"];
    EXPECT_EQ(x["name"], "runnable (CPU idle)");  // idle 2 ms > task0's 1 ms
    ASSERT_EQ(a["holders"].size(), 5u);
    EXPECT_EQ(a["holders"][0]["task"], "task0 (tid 20)");
    EXPECT_EQ(a["holders"][4]["task"], "task4 (tid 24)");
    EXPECT_EQ(a["other_holders"], 2);
    EXPECT_EQ(a["other_holders_ns"], 900 * kUs);
    EXPECT_EQ(a["cpu_idle_ns"], 2 * kMs);
    EXPECT_EQ(a["cpu_unknown_ns"], 10 * kMs - 4900 * kUs - 2 * kMs);
  }
  EXPECT_EQ(runnable, 1);
}

TEST(ExportPerfettoJsonTest, WindowKeepsOnlyOverlappingEvents) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::data_loader(db, false);
  ExportOptions o;
  o.since_ns = 100 * kMs;
  o.until_ns = 200 * kMs;
  Exported e = export_db(db, o);
  ASSERT_EQ(problems_of(e.doc), "");
  ASSERT_FALSE(events(e.doc, "X").empty());
  for (const auto& x : events(e.doc, "X")) {
    const int64_t ts = std::llround(x["ts"].get<double>() * 1000);
    const int64_t end = ts + std::llround(x["dur"].get<double>() * 1000);
    EXPECT_LT(ts, *o.until_ns) << x.dump();
    EXPECT_GE(end, *o.since_ns) << x.dump();
  }
  for (const auto& f : events(e.doc, "f")) {
    const double ts = f["ts"].get<double>() * 1000;
    EXPECT_TRUE(ts >= *o.since_ns && ts < *o.until_ns) << f.dump();
  }
  EXPECT_EQ(e.summary.cuda_calls,
            count(db,
                  "SELECT count(*) FROM cuda_call WHERE ts < 200000000 AND ts + dur >= "
                  "100000000"));
  EXPECT_EQ(e.summary.thread_states,
            count(db,
                  "SELECT count(*) FROM thread_state WHERE ts < 200000000 AND ts + dur >= "
                  "100000000"));
  EXPECT_LT(e.summary.cuda_calls, count(db, "SELECT count(*) FROM cuda_call"));
  EXPECT_EQ(e.doc["otherData"]["since_ns"], 100 * kMs);
}

TEST(ExportPerfettoJsonTest, PidFilterKeepsOnlyThatProcess) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  {
    TraceBuilder b(db);
    Timeline& a = scenarios::gpu_process(b, 100, "alpha", "a");
    Timeline& z = scenarios::gpu_process(b, 500, "zeta", "z");
    a.at(kMs);
    z.at(kMs);
    for (int i = 0; i < 20; ++i) {
      scenarios::launches(a, 2);
      a.sleep(100 * kUs, "futex", 500, 500);  // woken by the other process
      scenarios::launches(z, 3);
      z.disk(200 * kUs, "read", 4096);
    }
    b.slice(0, 0, kMs, 100, 100);  // CPU tracks are whole-machine: left out with a pid filter
  }
  Exported all = export_db(db);
  ASSERT_EQ(problems_of(all.doc), "");
  ExportOptions o;
  o.pids = {500};
  Exported e = export_db(db, o);
  ASSERT_EQ(problems_of(e.doc), "");
  for (const auto& ev : e.doc["traceEvents"]) EXPECT_EQ(ev["pid"], 500) << ev.dump();
  EXPECT_EQ(e.summary.cuda_calls, 60);
  EXPECT_EQ(e.summary.block_ios, 20);
  EXPECT_EQ(e.summary.flows, 0);  // the wakeups cross processes: both ends must be selected
  EXPECT_EQ(all.summary.cuda_calls, 100);
  EXPECT_EQ(all.summary.cpu_slices, 1);
  EXPECT_EQ(e.summary.cpu_slices, 0);
  EXPECT_GT(all.summary.flows, 0);
  o.pids = {100, 500};
  EXPECT_EQ(export_db(db, o).summary.flows, all.summary.flows);
}

TEST(ExportPerfettoJsonTest, PartialOverlapsGoToAnotherLane) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  {
    TraceBuilder b(db);
    b.process(7, "p");
    b.thread(7, 7, "t");
    const auto fn = b.intern("cudaMalloc");
    for (auto [ts, dur] : {std::pair{0, 100}, std::pair{10, 20}, std::pair{50, 100},
                           std::pair{60, 10}, std::pair{200, 5}}) {
      store::CudaCallRow c;
      c.ts_ns = ts * kUs;
      c.dur_ns = dur * kUs;
      c.pid = 7;
      c.tid = 7;
      c.function = fn;
      b.add(c);
    }
  }
  Exported e = export_db(db);
  EXPECT_EQ(problems_of(e.doc), "");
  std::multiset<int64_t> tids;
  for (const auto& x : events(e.doc, "X", "cuda")) tids.insert(x["tid"].get<int64_t>());
  // [0,100) holding [10,30) and [60,70) (inside both), then [200,205).
  EXPECT_EQ(tids.count(7), 4u);
  EXPECT_EQ(tids.count(track_tid(7, TrackKind::kCuda, 1)), 1u);  // [50,150)
}

TEST(ExportPerfettoJsonTest, StoredChainsBecomeRegions) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  scenarios::noisy_neighbour(db, false);
  Exported before = export_db(db);
  EXPECT_EQ(before.summary.chains, 0);  // no causal_chain table yet: skipped silently
  ASSERT_TRUE(analyze::analyze_and_store(db).ok());
  const int64_t stored = count(db, "SELECT count(*) FROM causal_chain");
  ASSERT_GT(stored, 0);
  Exported e = export_db(db);
  ASSERT_EQ(problems_of(e.doc), "");
  EXPECT_EQ(e.summary.chains, stored);
  auto regions = events(e.doc, "X", "causal_chain");
  ASSERT_EQ(static_cast<int64_t>(regions.size()), stored);
  EXPECT_TRUE(regions[0]["args"]["summary"].is_string());
  EXPECT_FALSE(regions[0]["args"]["summary"].get<std::string>().empty());
  EXPECT_EQ(regions[0]["name"].get<std::string>().rfind("chain #", 0), 0u);
  // A window that excludes every chain window drops them.
  ExportOptions o;
  o.since_ns = 10'000 * kMs;
  EXPECT_EQ(export_db(db, o).summary.chains, 0);
}

TEST(ExportPerfettoJsonTest, EmptyTraceIsAValidEmptyTimeline) {
  TempDir dir;
  const std::string db = dir.file("trace.db");
  { TraceBuilder b(db); }
  Exported e = export_db(db);
  EXPECT_EQ(problems_of(e.doc), "");
  EXPECT_EQ(e.summary.events(), 0);
  EXPECT_TRUE(e.doc["traceEvents"].is_array());
}

TEST(ExportPerfettoJsonTest, ValidatorCatchesBrokenDocuments) {
  auto doc = nlohmann::json::parse(R"({"traceEvents":[
    {"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":10},
    {"ph":"X","name":"b","pid":1,"tid":1,"ts":5,"dur":10},
    {"ph":"s","id":3,"pid":1,"tid":1,"ts":1},
    {"ph":"X","pid":1,"tid":2,"ts":1,"dur":-1}]})");
  auto problems = timeline::validate_trace_events(doc);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("partially overlaps"), std::string::npos) << all;
  EXPECT_NE(all.find("flow 3 has no finish"), std::string::npos) << all;
  EXPECT_NE(all.find("without a name"), std::string::npos) << all;
  EXPECT_NE(all.find("negative"), std::string::npos) << all;
}

}  // namespace
}  // namespace causeway::testing

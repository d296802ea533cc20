// The report's interactive timeline: for each of the worst causal chains, a short window
// around its evidence with one lane per thread involved (the slowed thread, the culprit, the
// wakers and CPU holders the chain names, the threads its evidence rows belong to), holding
// that window's CUDA calls, scheduling states (running / runnable with who held the CPU
// meanwhile / blocked with syscall and waker), long syscalls, block I/O and wakeups. An
// untraced lane (a culprit that held the CPU) shows when it held the CPUs the traced lanes
// ran or waited on (cpu_slice); a traced lane shows the cpu_slice rows its chain cites.
//
// Bounded whatever the trace size (TimelineLimits, documented in docs/report.md): at most
// max_views windows, max_lanes lanes and max_events events per window (evidence rows are
// always kept; beyond the cap the shortest events are dropped and counted in `omitted`).
// Queries use the (utid, ts) indexes, so the cost does not grow with the trace either.
//
// Units: ns since the trace origin. Thread-safety: reentrant; only reads `db`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyze/chains.h"
#include "common/result.h"

struct sqlite3;

namespace causeway::report {

struct TimelineLimits {
  size_t max_views = 8;                 // chains with a timeline window (the highest ranked)
  size_t max_lanes = 10;                // threads per window
  size_t max_events = 2500;             // events per window
  size_t max_wakeups = 400;             // wakeup arrows per window
  int64_t max_window_ns = 400'000'000;  // 400 ms: longest window shown
  int64_t min_window_ns = 20'000'000;   // 20 ms: shortest (context around short evidence)
  int64_t min_syscall_ns = 20'000;      // shorter syscalls are left out (states show them)
};

enum class EventKind : int {
  kCuda = 0,
  kRunning = 1,
  kRunnable = 2,
  kSleeping = 3,
  kUninterruptible = 4,
  kOtherState = 5,
  kSyscall = 6,
  kBlockIo = 7,
  kHeldCpu = 8,  // a cpu_slice row: the lane's task held a CPU while a traced thread waited
};

// The evidence table an event kind's id refers to ("cuda_call", "thread_state", ...).
const char* event_table(EventKind kind);

struct TimelineLane {
  int64_t utid = 0;
  int32_t pid = 0;
  int32_t tid = 0;
  std::string thread;   // comm
  std::string process;  // process name
  std::string role;     // "slowed thread", "culprit", "waker", "held its CPU", "evidence", "GPU"
  bool traced = true;   // untraced threads have no states or calls of their own
};

struct TimelineEvent {
  int lane = 0;
  EventKind kind = EventKind::kCuda;
  int64_t ts_ns = 0;
  int64_t dur_ns = 0;
  int64_t id = 0;         // row id in event_table(kind)
  int depth = 0;          // CUDA calls: nesting depth on the thread (runtime -> driver)
  std::string name;       // function / state / syscall / "read 64.0 KiB"
  std::string detail;     // one line for the tooltip
  bool evidence = false;  // cited by the view's chain
};

struct TimelineWakeup {
  int64_t id = 0;  // wakeup row id
  int64_t ts_ns = 0;
  int from_lane = -1;  // the waker's lane, -1 when it has none here
  int to_lane = 0;
  std::string waker;  // "sim-gpu (pid 4121, tid 4130)", "interrupt" for none
};

struct TimelineView {
  int64_t chain_id = 0;
  int64_t start_ns = 0;  // the window shown
  int64_t end_ns = 0;
  int64_t focus_start_ns = 0;  // the evidence inside it
  int64_t focus_end_ns = 0;
  std::vector<TimelineLane> lanes;
  std::vector<TimelineEvent> events;  // by lane, then time
  std::vector<TimelineWakeup> wakeups;
  int64_t omitted_events = 0;   // dropped by max_events
  int64_t omitted_wakeups = 0;  // dropped by max_wakeups
  int64_t omitted_lanes = 0;    // threads involved beyond max_lanes
};

// Windows for the first max_views chains (in their order). A chain whose evidence cannot be
// located (none cited, rows missing) gets a window at the start of its affected span.
Result<std::vector<TimelineView>> build_timeline_views(sqlite3* db,
                                                       const std::vector<analyze::Chain>& chains,
                                                       const TimelineLimits& limits);

// "1.25 ms", "830 µs", "2.40 s": durations for labels.
std::string format_duration(int64_t ns);
// "64.0 KiB"
std::string format_bytes(int64_t bytes);

}  // namespace causeway::report

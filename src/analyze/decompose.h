// Interval decomposition: where a thread's wall time went during [start, end), and the
// recursive waker chain behind a blocked interval.
//
// Every nanosecond of the interval lands in exactly one bucket: on-CPU, runnable (by the
// task that held the CPU meanwhile, from that CPU's own timeline in cpu_slice), blocked (by cause,
// reason, waker and device), GPU wait (blocked inside a CUDA call until a GPU agent or an interrupt
// woke the thread) or unaccounted (no scheduling data: the thread was not traced then, or it
// exited). Nothing is estimated.
//
// Thread-safety: none (TraceData caches syscall lookups).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyze/trace_data.h"

namespace causeway::analyze {

enum class BlockCause : uint8_t {
  kGpu,       // waiting for the device inside a CUDA call
  kIo,        // uninterruptible sleep, block I/O of the thread, fsync-like syscalls
  kLock,      // futex
  kGil,       // waiting for a Python GIL (python_gil.h); the share's waker is the GIL's holder
  kSleep,     // nanosleep / clock_nanosleep
  kWait,      // any other blocking wait (poll, pipe/socket read, ...)
  kRecorder,  // stopped or woken by the causeway recorder (attaching probes): its overhead
};
// "gpu", "io", "lock", "gil", "sleep", "wait", "recorder"
const char* block_cause_word(BlockCause c);

// PreemptShare::thread when the CPU the thread was queued on was idle meanwhile: wakeup
// latency or CPU-quota throttling, never a task to blame.
inline constexpr int32_t kIdleHolder = -2;

// Runnable time by who held the CPU the thread was queued on. From the cpu_slice rows of that
// CPU overlapping the runnable interval; an interval no slice covers at all falls back to
// thread_state.preempter_utid (the task that switched in when the thread left the CPU, all a
// trace without cpu_slice knows); time not covered otherwise is unknown.
struct PreemptShare {
  int32_t thread = -1;  // holder thread index; -1 unknown, kIdleHolder the CPU was idle
  int32_t cpu = -1;
  int64_t ns = 0;
  int64_t intervals = 0;         // runnable intervals it held the CPU in
  int64_t largest_state_id = 0;  // evidence: the runnable interval it held the CPU longest in
  int64_t largest_ns = 0;
  int64_t largest_ts = 0;        // start of that runnable interval (clipped), ns
  int64_t largest_slice_id = 0;  // a cpu_slice row of the holder in it, 0 none (fallback)
  int64_t largest_slice_ts = 0;  // its start, ns
  // Whether any of `ns` comes from the CPU's timeline; false when all of it is the fallback
  // (the task that switched in when the thread left the CPU: it may not have held it long).
  bool from_slices = false;
};

// How a blocked interval ended, as far as the analysis cares (BlockShare::wake).
enum class WakeKind : uint8_t {
  kUnknown,    // no waker_context (older traces): `waker` is whoever ran where it completed
  kTask,       // `waker` woke it
  kInterrupt,  // a hardirq, softirq or NMI: no task woke it
  kTimer,      // a timeout or sleep expired: nobody woke it
};

struct BlockShare {
  BlockCause cause = BlockCause::kWait;
  std::string reason;  // syscall name ("futex", "read"), else "sleeping"/"uninterruptible"
  int32_t waker = -1;  // waking thread index, -1 none / interrupt / timer
  WakeKind wake = WakeKind::kUnknown;
  uint32_t dev = 0;  // block device of overlapping I/O (0 none)
  int64_t ns = 0;
  int64_t intervals = 0;
  int64_t largest_state_id = 0;  // evidence: the biggest interval of this share
  int64_t largest_ns = 0;
  int64_t largest_ts = 0;  // clipped start/end of that interval
  int64_t largest_end = 0;
  int64_t largest_syscall_id = 0;
  int64_t largest_io_id = 0;
  int64_t largest_io_ts = 0;
};

struct Decomposition {
  int64_t total_ns = 0;
  int64_t on_cpu_ns = 0;
  int64_t runnable_ns = 0;
  int64_t blocked_ns = 0;  // all blocked causes except GPU wait
  int64_t gpu_wait_ns = 0;
  int64_t unaccounted_ns = 0;
  int64_t runnable_intervals = 0;        // runnable thread_state rows (clipped) counted
  std::vector<PreemptShare> preempters;  // unsorted until sort_shares()
  std::vector<BlockShare> blocked;       // includes the GPU-wait shares
  std::vector<int32_t> cpus;             // CPUs the thread ran on (distinct)

  int64_t blocked_by(BlockCause c) const;
  // Runnable time the CPU was idle meanwhile, and held by an unknown task.
  int64_t runnable_idle_ns() const;
  int64_t runnable_unknown_ns() const;
  void sort_shares();  // largest first; ties by thread index then reason, for stable output
  void merge(const Decomposition& other);
};

// Per-interval totals returned by decompose_into, for callers that count intervals.
struct IntervalTotals {
  int64_t on_cpu_ns = 0;
  int64_t runnable_ns = 0;
  int64_t io_ns = 0;
  int64_t lock_ns = 0;
  int64_t gil_ns = 0;
  int64_t wait_ns = 0;
  int64_t sleep_ns = 0;
  int64_t recorder_ns = 0;  // stopped or woken by the recorder
  int64_t gpu_ns = 0;
  int64_t waited_on_others_ns = 0;  // lock/wait time woken by another (non-GPU) thread
  int64_t unaccounted_ns = 0;
};

// Adds the decomposition of [start, end) of `thread` to `acc`. `in_cuda_call` says the
// interval is inside a CUDA call, where a wakeup by a GPU agent or an interrupt is GPU wait.
// `cursor` (optional) carries the position in the thread's states between calls made in
// time order, replacing a binary search per interval by a short forward scan.
IntervalTotals decompose_into(TraceData& data, int32_t thread, int64_t start, int64_t end,
                              bool in_cuda_call, Decomposition& acc, size_t* cursor = nullptr);
Decomposition decompose(TraceData& data, int32_t thread, int64_t start, int64_t end,
                        bool in_cuda_call);

// The task that held the CPU most while `d`'s thread was runnable, among tasks that can be
// blamed (not idle, not unknown, not the recorder), or -1. `ns` (optional) receives its time.
int32_t top_cpu_holder(const TraceData& data, const Decomposition& d, int64_t* ns = nullptr);
// The culprit of runnable time: the top holder, unless the CPU was idle for longer (then the
// delay was wakeup latency or throttling, and nobody is to blame): -1.
int32_t runnable_culprit(const TraceData& data, const Decomposition& d);

// One hop of a waker chain: what the waking thread was doing while the thread it woke was
// blocked (the window), and why.
struct WakerHop {
  int depth = 1;  // 1 = woke the subject thread
  int32_t thread = -1;
  int64_t window_start = 0;
  int64_t window_end = 0;
  Decomposition what;    // the waker's own decomposition over the window
  std::string activity;  // dominant: "on_cpu", "runnable", "blocked_io", "lock_wait",
                         // "waiting", "sleeping", "untraced"
  std::string detail;    // one clause, e.g. "blocked in fdatasync on device 8:0 for 12.1 ms"
  std::vector<int64_t> state_ids;  // evidence in thread_state
  std::vector<int64_t> state_ts;   // their (clipped) start times, ns, parallel to state_ids
  std::vector<int64_t> io_ids;     // evidence in block_io
  std::vector<int64_t> syscall_ids;
};

// Follows wakers of the blocked interval [start, end) of `subject` woken by `waker`, up to
// `max_depth` hops; stops at interrupts, timers, GPU agents, the recorder and cycles.
std::vector<WakerHop> waker_chain(TraceData& data, int32_t subject, int32_t waker, int64_t start,
                                  int64_t end, int max_depth = 3);

// "1.23 ms", "41.0 ms", "2.50 s", "850 us", "120 ns": a duration for people.
std::string format_duration(int64_t ns);

}  // namespace causeway::analyze

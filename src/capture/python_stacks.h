// The decoder's Python-stack stage: CW_EV_PY_STACK records in, Python stack ids out.
//
// BPF emits a Python stack record just before the event it belongs to is complete (at CUDA
// entry, before the call's record is written at return; inside sched_switch, before the
// switch record), tagged with that event's (tid, ts). ingest() resolves the frames right
// away, while the process and its code objects are alive (PythonResolver), stores the
// deduplicated stack through the sink, and keeps its id until take(tid, ts) claims it for
// the CUDA call or blocked interval. Identical raw stacks of a process are resolved once
// (until the resolver finds a code object replaced at its address; see PythonResolver).
// Thread-safety: none; the decoder's thread uses it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/python_resolver.h"
#include "capture/row_sink.h"
#include "common/result.h"

namespace causeway::capture {

struct PythonStackCounts {
  int64_t records = 0;    // CW_EV_PY_STACK records ingested
  int64_t malformed = 0;  // too short / inconsistent
  int64_t attached = 0;   // claimed by their event
  int64_t resolved = 0;   // distinct raw stacks resolved (read from the process)
  int64_t truncated = 0;  // deeper than CW_PY_MAX_FRAMES
  int64_t unclaimed = 0;  // dropped: their event never came (lost probe return, overflow)
};

class PythonStacks {
 public:
  PythonStacks(RowSink& sink, PythonResolver& resolver) : sink_(sink), resolver_(resolver) {}

  // One CW_EV_PY_STACK record. Malformed records are counted and skipped.
  Status ingest(std::span<const uint8_t> record);
  // The Python stack recorded for the event of thread `tid` at `ts_ns` (0 when none), once.
  store::StackId take(int32_t tid, int64_t ts_ns);
  // A process exited or exec'd: forget what was cached for it (and tell the exit hook).
  void forget_process(int32_t pid);
  // Called by forget_process(), e.g. to stop the BPF walker for that pid.
  void set_exit_hook(std::function<void(int32_t)> hook) { exit_hook_ = std::move(hook); }

  const PythonStackCounts& counts() const { return counts_; }
  // Threads with an entry in the pending table now (for tests: it stays bounded).
  size_t pending_threads() const { return pending_.size(); }

  // Bound on the threads the pending table keeps an entry for. An entry stays after its
  // stacks are claimed (so a thread's next call allocates nothing), and nothing tells this
  // stage that a thread has exited, so without a bound a workload that starts threads
  // forever (a thread per request, a pool that is recycled) would grow the table forever.
  // At the bound, entries with nothing pending go; if that frees less than half, every
  // entry goes and its stacks count as unclaimed (more than 2,048 threads each with a stack
  // whose event never came is not a real workload). In-flight stacks of live threads are a
  // few per thread and are claimed within the ring's latency, so the first step suffices.
  static constexpr size_t kMaxPendingThreads = 4096;

 private:
  struct Pending {
    int64_t ts_ns;
    store::StackId id;
  };
  RowSink& sink_;
  PythonResolver& resolver_;
  PythonStackCounts counts_;
  void trim_pending();
  // A few per thread: nested CUDA calls (runtime -> driver) are pending at once. At most
  // kMaxPendingThreads threads (see there) and 16 stacks per thread.
  std::unordered_map<int32_t, std::vector<Pending>> pending_;
  // (pid, raw frames, entry mask) -> stored stack id.
  std::unordered_map<std::string, store::StackId> by_raw_;
  std::string key_;            // reused buffer
  int64_t replaced_seen_ = 0;  // resolver_.code_objects_replaced() when by_raw_ was last valid
  std::function<void(int32_t)> exit_hook_;
};

}  // namespace causeway::capture

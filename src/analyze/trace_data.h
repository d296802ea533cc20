// The slice of a trace database the analysis works on, loaded into memory once.
//
// Loading is one sequential scan per table (cuda_call, thread_state, block_io, thread,
// process, syscall_name), which on SQLite is far faster than millions of indexed point
// queries, and works on traces whose indexes were never built (an interrupted recording).
// Syscall rows are looked up lazily by rowid (always indexed) for the few intervals a chain
// cites. Memory: about 64 bytes per CUDA call and per thread-state interval.
//
// Ownership: a TraceData borrows the sqlite3 connection it was loaded from (for the lazy
// syscall lookups); the connection must outlive it. Thread-safety: none.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace causeway::analyze {

// What a CUDA API function does, as far as the analysis cares.
enum class CallClass : uint8_t {
  kOther,
  kLaunch,        // kernel or graph launch
  kSync,          // stream/device/event/context synchronize
  kCopySync,      // synchronous copy (waits for the device)
  kCopyAsync,     // asynchronous copy
  kAlloc,         // device allocation (cudaMalloc, cuMemAlloc, managed, pitch)
  kFree,          // device free (cudaFree, cuMemFree): implicitly synchronizes
  kHostAlloc,     // page-locked host allocation (cudaMallocHost, cudaHostAlloc, ...)
  kHostRegister,  // cudaHostRegister / cuMemHostRegister: pins an existing range
  kMemset,
};

struct FunctionInfo {
  std::string name;  // as probed, e.g. "cudaMemcpyAsync_ptsz"
  std::string base;  // without _v2/_v3/_ptsz/_ptds suffixes, e.g. "cudaMemcpyAsync"
  CallClass cls = CallClass::kOther;
};

// The base name of a probed symbol and its class (exposed for tests).
std::string function_base_name(const std::string& name);
CallClass classify_function(const std::string& base);

struct ThreadInfo {
  int64_t utid = 0;
  int32_t tid = 0;
  int32_t pid = 0;
  int64_t upid = 0;
  std::string name;     // comm
  std::string process;  // process name
  bool traced = false;
  std::optional<int64_t> end_ts;  // exit, ns since origin
  bool gpu_agent = false;         // a driver/device thread whose wakeups mean "the GPU finished"
  // A thread of the causeway recorder itself (meta recorder_pid, or in older traces a thread
  // named "causeway" that resumed a stopped thread): never a culprit, a waker to follow or a
  // preempter to blame — it only stops traced processes briefly to attach probes.
  bool recorder = false;
};

// One CUDA call. `thread` and `fn` index TraceData::threads / functions.
struct Call {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  int64_t stream_id = -1;  // -1: none
  int64_t bytes = -1;      // -1: none
  uint64_t host_ptr = 0;
  int32_t thread = 0;
  int32_t fn = 0;
  int32_t ret = 0;
  int8_t copy_kind = -1;  // -1: none; 1 HtoD, 2 DtoH, ...
  bool has_host_ptr = false;
  bool top_level = true;  // false when nested in another call of the same thread (a driver
                          // call made by a runtime call)
  int64_t end() const { return ts + dur; }
};

enum : uint8_t { kRunning = 0, kRunnable = 1, kSleeping = 2, kUninterruptible = 3, kOther = 4 };

// How a blocked interval ended (thread_state.waker_context; store::WakerContext values).
enum : int8_t {
  kWakeUnknown = -1,  // old traces: `waker` is only whoever ran where the wakeup completed
  kWakeTask = 0,      // `waker` woke it
  kWakeHardirq = 1,
  kWakeSoftirq = 2,
  kWakeTimer = 3,  // a timeout or sleep ended: nobody woke it
  kWakeNmi = 4,
};

struct StateRow {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  int64_t syscall_id = 0;  // 0: unknown
  int32_t thread = 0;
  int32_t waker = -1;      // thread index, -1: none / interrupt
  int32_t preempter = -1;  // thread index, -1: unknown
  int32_t syscall_nr = -1;
  int16_t cpu = -1;  // running: the CPU; runnable: the CPU it was queued on
  uint8_t state = kRunning;
  int8_t waker_context = kWakeUnknown;
  int64_t end() const { return ts + dur; }
};

// Who held one CPU from ts for dur (cpu_slice). Slices of one CPU do not overlap.
struct CpuSlice {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  int32_t holder = -1;  // thread index, -1 = the CPU was idle
  int32_t cpu = 0;
  int64_t end() const { return ts + dur; }
};

struct BlockIo {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  int64_t bytes = 0;
  int32_t thread = 0;
  uint32_t dev = 0;
  char op = '?';
  int64_t end() const { return ts + dur; }
};

struct SyscallInfo {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  std::string name;
  std::optional<int64_t> fd;
  std::optional<int64_t> addr;
  std::optional<int64_t> op;  // futex operation, ioctl request
};

// Half-open index range into a vector.
struct Range {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

struct LoadOptions {
  std::optional<int64_t> since_ns;  // analyse calls starting at/after this (ns since origin)
  std::optional<int64_t> until_ns;  // ... and before this
};

class TraceData {
 public:
  static Result<TraceData> load(sqlite3* db, const LoadOptions& opts);
  TraceData() = default;
  TraceData(TraceData&&) noexcept;
  TraceData& operator=(TraceData&&) noexcept;
  ~TraceData();

  std::vector<ThreadInfo> threads;
  std::vector<FunctionInfo> functions;
  std::vector<Call> calls;       // sorted by (thread, ts, -dur): a caller precedes its nested calls
  std::vector<StateRow> states;  // sorted by (thread, ts)
  std::vector<BlockIo> block_ios;    // sorted by (thread, ts)
  std::vector<CpuSlice> slices;      // sorted by (cpu, ts); empty in traces without cpu_slice
  std::vector<Range> cpu_slices;     // per CPU number: its range in `slices`
  std::vector<Range> thread_calls;   // per thread index
  std::vector<Range> thread_states;  // per thread index
  std::vector<Range> thread_ios;     // per thread index
  int64_t start_ns = 0;              // earliest event time in the trace (ns since origin)
  int64_t end_ns = 0;                // latest event end
  int64_t duration_ns() const { return end_ns > start_ns ? end_ns - start_ns : 0; }
  bool has_cpu_slices = false;  // the trace has a cpu_slice table (it may still be empty)
  int32_t recorder_pid = 0;     // meta recorder_pid, 0 when absent
  // CPU quotas over traced processes that throttled them during the trace (meta cpu_quotas:
  // nr_throttled rose between the start and the end), nearest cgroup first.
  struct Throttle {
    std::string cgroup;
    int64_t quota_us = 0, period_us = 0;
    int64_t periods_throttled = 0;  // nr_throttled end - start
    int64_t throttled_ns = 0;       // throttled time end - start
    std::vector<int32_t> pids;
  };
  std::vector<Throttle> throttles;
  // Python GIL waits (python_gil.h): thread_state id of a wait for the GIL -> the thread that
  // held the GIL meanwhile (-1 unknown). Empty for traces without Python processes.
  std::unordered_map<int64_t, int32_t> gil_holder;
  // Where a GIL holder was running Python: the innermost frame of the Python stack it had when
  // it let the GIL go (its own GIL waits), most frequent first. Only with Python stacks on.
  struct PyLine {
    std::string function;
    std::string file;
    int64_t line = 0;
    int64_t state_id = 0;  // a thread_state row of the holder with that stack (evidence)
    int64_t ts = 0;        // its start, ns
  };
  std::unordered_map<int32_t, PyLine> gil_holder_line;  // holder thread index -> its line
  // The holder of GIL wait `state_id`, or nullopt when that state is not a GIL wait.
  std::optional<int32_t> gil_holder_of(int64_t state_id) const {
    if (gil_holder.empty()) return std::nullopt;
    auto it = gil_holder.find(state_id);
    if (it == gil_holder.end()) return std::nullopt;
    return it->second;
  }
  // The throttling quota over process `pid`, or null.
  const Throttle* throttle_of(int32_t pid) const {
    for (const Throttle& t : throttles) {
      for (int32_t p : t.pids) {
        if (p == pid) return &t;
      }
    }
    return nullptr;
  }

  // Whether `thread` (an index, or -1) belongs to the recorder.
  bool is_recorder(int32_t thread) const {
    return thread >= 0 && static_cast<size_t>(thread) < threads.size() &&
           threads[static_cast<size_t>(thread)].recorder;
  }

  // Name of syscall number `nr` ("syscall_<nr>" when the trace has no name for it).
  std::string syscall_name(int32_t nr) const;
  // The syscall row `id`, or nullopt. Cached.
  std::optional<SyscallInfo> syscall(int64_t id);
  // Index of the first state of `thread` ending after `ts` (binary search).
  size_t first_state_after(int32_t thread, int64_t ts) const;
  // Index of the first slice of `cpu` ending after `ts`; the CPU's range end when none.
  size_t first_slice_after(int32_t cpu, int64_t ts) const;

 private:
  struct StmtFree {
    void operator()(sqlite3_stmt* s) const;
  };
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StmtFree> syscall_stmt_;
  std::unordered_map<int32_t, std::string> syscall_names_;
  std::unordered_map<int64_t, std::optional<SyscallInfo>> syscall_cache_;
};

// "8:0" for a dev_t stored as (major << 20) | minor.
std::string device_name(uint32_t dev);

}  // namespace causeway::analyze

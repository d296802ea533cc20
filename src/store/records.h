// Rows the capture pipeline hands to the trace-database writer.
//
// This header is the contract between src/capture (producer) and src/store (consumer).
// Units: every *_ns field is nanoseconds. Every `ts_ns` is an absolute CLOCK_MONOTONIC
// timestamp (what bpf_ktime_get_ns() returns); the writer stores it relative to the trace
// origin (see store::WriterOptions::origin_ns). Sizes are bytes. pid = thread-group id
// (userspace "process id"), tid = kernel task id.
//
// Strings that repeat (function names, syscall names, kernel symbols, comms, paths) are
// passed as StringId obtained from Writer::intern(); this keeps the per-event path free of
// string hashing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace causeway::store {

using StringId = int64_t;  // 0 means "no string"
using StackId = int64_t;   // 0 means "no stack"
using RowId = int64_t;     // SQLite rowid of an inserted row

// One CUDA runtime or driver API call, from entry to return.
struct CudaCallRow {
  int64_t ts_ns = 0;   // entry time
  int64_t dur_ns = 0;  // return time - entry time
  int32_t pid = 0;
  int32_t tid = 0;
  StringId function = 0;             // exported symbol name as probed, e.g. "cudaMemcpyAsync_ptsz"
  int32_t ret = 0;                   // return value (cudaError_t / CUresult); 0 = success
  std::optional<int64_t> bytes;      // bytes moved / allocated / set
  std::optional<int32_t> copy_kind;  // cudaMemcpyKind (0 H2H, 1 H2D, 2 D2H, 3 D2D, 4 default)
  std::optional<uint64_t> stream;    // cudaStream_t / CUstream handle value (0 = legacy default)
  std::optional<uint64_t> device_ptr;   // device pointer allocated, freed, copied to/from or set
  std::optional<uint64_t> host_ptr;     // host pointer of a copy (for pageable/pinned analysis)
  uint32_t grid[3] = {0, 0, 0};         // launch grid dims; all 0 when not a launch
  uint32_t block[3] = {0, 0, 0};        // launch block dims; all 0 when not a launch
  std::optional<uint64_t> kernel_addr;  // host function pointer identifying the kernel
  StringId kernel = 0;                  // kernel symbol, when resolved
  StackId stack = 0;                    // user stack at entry
  StackId py_stack = 0;                 // Python stack at entry (Writer::intern_py_stack)
};

enum class ThreadState : uint8_t {
  kRunning = 0,          // on a CPU
  kRunnable = 1,         // preempted / waiting for a CPU (task state TASK_RUNNING while off-CPU)
  kSleeping = 2,         // blocked, interruptible (TASK_INTERRUPTIBLE, "S")
  kUninterruptible = 3,  // blocked, uninterruptible (TASK_UNINTERRUPTIBLE, "D"), usually I/O
  kOther = 4,            // stopped, traced, dead, parked ... (raw state in kernel_state)
};

// Where a wakeup came from, judged in the waker's own context (sched_waking). Stored as the
// integer in wakeup.waker_context / thread_state.waker_context.
enum class WakerContext : uint8_t {
  kTask = 0,     // a thread woke it (waker_pid/tid)
  kHardirq = 1,  // a hardware interrupt handler (device completion, IPI work)
  kSoftirq = 2,  // a softirq (network receive, block completion, RCU), no thread
  kTimer = 3,    // a timer expired: a timeout or a sleep ended; nobody woke the thread
  kNmi = 4,
};

// One interval during which a traced thread was in one scheduling state.
struct ThreadStateRow {
  int64_t ts_ns = 0;
  int64_t dur_ns = 0;
  int32_t pid = 0;
  int32_t tid = 0;
  ThreadState state = ThreadState::kRunning;
  int32_t cpu = -1;                   // CPU it ran on (running) or last ran on (others)
  int64_t kernel_state = 0;           // raw prev_state from sched_switch, for off-CPU states
  std::optional<int32_t> syscall_nr;  // syscall in progress while blocked, if any
  std::optional<RowId> syscall_row;   // row id of that syscall in the syscall table, if known
  std::optional<int32_t> waker_pid;   // blocked intervals: who woke the thread (a task; absent
  std::optional<int32_t> waker_tid;   // when an interrupt or a timer did, see waker_context)
  std::optional<WakerContext> waker_context;  // blocked intervals: how the wakeup came
  std::optional<int32_t> preempter_pid;       // runnable intervals: the task that took the CPU
  std::optional<int32_t> preempter_tid;
  StackId stack = 0;     // user stack when it went off CPU (blocked intervals)
  StackId py_stack = 0;  // Python stack when it went off CPU (blocked intervals)
};

// One resolved Python frame (a CPython interpreter frame) of a Python stack.
struct PyFrameRow {
  std::string function;  // co_qualname (3.11+) / co_name (3.10); "<unresolved: why>" if unread
  std::string file;      // co_filename; empty when unresolved
  int32_t line = -1;     // line being executed; -1 = unknown (stored as NULL)
  bool entry = false;    // entered from C: one native _PyEval_EvalFrameDefault call starts here
};

// A wakeup of a traced thread (sched_wakeup / sched_wakeup_new).
struct WakeupRow {
  int64_t ts_ns = 0;
  int32_t wakee_pid = 0;
  int32_t wakee_tid = 0;
  int32_t waker_pid = 0;  // the waking task (0 = none: an interrupt or timer, see context)
  int32_t waker_tid = 0;
  int32_t target_cpu = -1;
  // How the wakeup came; absent when only the completing CPU's task is known (no
  // sched_waking record), in which case waker_pid/tid is that task, possibly not the waker.
  std::optional<WakerContext> waker_context;
};

// Who held a CPU from ts_ns for dur_ns: reconstructed by capture from two consecutive
// context switches on that CPU (none missed in between), recorded while a traced thread ran
// on or waited for that CPU. pid/tid 0 = the CPU was idle.
struct CpuSliceRow {
  int64_t ts_ns = 0;
  int64_t dur_ns = 0;
  int32_t cpu = 0;
  int32_t pid = 0;
  int32_t tid = 0;
};

// One system call of a traced thread, from entry to exit.
struct SyscallRow {
  int64_t ts_ns = 0;
  int64_t dur_ns = 0;
  int32_t pid = 0;
  int32_t tid = 0;
  int32_t nr = 0;     // x86_64 syscall number
  StringId name = 0;  // e.g. "futex"
  int64_t ret = 0;    // return value (negative errno on failure)
  std::optional<int64_t> fd;
  std::optional<int64_t> bytes;  // requested count for read/write-like calls
  std::optional<uint64_t> addr;  // futex uaddr, mmap addr, ...
  std::optional<int64_t> op;     // futex op, ioctl request, ...
  StackId stack = 0;
};

// A block I/O request attributed to a traced process.
struct BlockIoRow {
  int64_t ts_ns = 0;       // when it was inserted into the queue (or issued, if no insert)
  int64_t dur_ns = 0;      // until completion
  int64_t queue_ns = 0;    // insert -> issue to device
  int64_t service_ns = 0;  // issue -> completion
  int32_t pid = 0;         // process on whose behalf it was submitted
  int32_t tid = 0;
  uint32_t dev = 0;  // device number, (major << 20) | minor as in the kernel's dev_t
  uint64_t sector = 0;
  int64_t bytes = 0;
  char op = 'R';      // 'R' read, 'W' write, 'F' flush, 'D' discard, '?' other
  int32_t error = 0;  // completion error (0 = ok)
};

enum class ProcessEventKind : uint8_t { kFork = 0, kExec = 1, kExit = 2, kOomKill = 3 };

// Process lifecycle.
struct ProcessEventRow {
  int64_t ts_ns = 0;
  ProcessEventKind kind = ProcessEventKind::kFork;
  int32_t pid = 0;
  int32_t tid = 0;
  int32_t other_pid = 0;  // fork: the child; oom_kill: the victim
  int32_t exit_code = 0;  // exit: the wait-status style code (exit status or signal)
  StringId filename = 0;  // exec: the new image
};

// What is known about a task (traced or not, e.g. a preempting process).
struct ThreadInfo {
  int32_t pid = 0;
  int32_t tid = 0;
  std::string comm;     // thread name (16 chars max from the kernel)
  bool traced = false;  // part of the traced set
  std::optional<int64_t> start_ts_ns;
  std::optional<int64_t> end_ts_ns;
};

struct ProcessInfo {
  int32_t pid = 0;
  int32_t ppid = 0;
  std::string name;     // process comm
  std::string cmdline;  // space-joined argv, as far as known
  bool traced = false;
  std::optional<int64_t> start_ts_ns;
  std::optional<int64_t> end_ts_ns;
  std::optional<int32_t> exit_code;
};

// An executable mapping of a traced process, for symbolizing stack addresses later.
struct MappingInfo {
  int32_t pid = 0;
  uint64_t start = 0;  // virtual address range [start, end)
  uint64_t end = 0;
  uint64_t file_offset = 0;
  std::string path;
  std::string build_id;  // hex, empty when the file has none
  // Only for a file without a build-id: its size and mtime when it was mapped
  // (host::read_file_stamp), checked instead of the build-id before it is symbolized. Both
  // or neither are set. Explicitly initialized so that brace-initializing the fields above
  // stays warning-free (-Wmissing-field-initializers).
  std::optional<int64_t> file_size = std::nullopt;      // bytes
  std::optional<int64_t> file_mtime_ns = std::nullopt;  // ns since the Unix epoch
};

}  // namespace causeway::store

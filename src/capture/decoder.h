// The ingest stage: raw ring-buffer records (include/causeway/abi/events.h) in, store rows
// out. It turns switch/wakeup pairs into thread-state intervals (running; runnable with the
// task that took the CPU; blocked with the kernel state, the syscall in progress, the
// waker and the user stack), decodes CUDA call arguments, syscall arguments, block I/O
// timings and process lifecycle, and records what it learns about every task it sees
// (comm, traced or not) — including untraced wakers and preempters.
//
// Events of one task arrive in order (one ring buffer); the decoder needs nothing else.
// Thread-safety: none; one thread feeds it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/dwarf_unwinder.h"
#include "capture/python_stacks.h"
#include "capture/row_sink.h"

namespace causeway::capture {

// x86_64 syscall name (table generated from the kernel headers), or "" for an unknown number.
std::string_view syscall_name(int32_t nr);
// Calls `fn` for every x86_64 syscall capture knows, in number order.
void for_each_syscall(const std::function<void(int32_t nr, std::string_view name)>& fn);
// The syscalls recorded by default (issue 3's list and their close relatives).
const std::vector<int32_t>& default_syscalls();

struct DecoderOptions {
  int64_t start_ns = 0;                    // trace start (CLOCK_MONOTONIC): opens intervals
                                           // of tasks already running when tracing began
  std::vector<int32_t> recorded_syscalls;  // syscalls emitted by BPF (empty = none)
  PythonStacks* python = nullptr;          // Python-stack stage (not owned); null = ignore them
  DwarfStacks* dwarf = nullptr;            // --call-graph dwarf stage (not owned); null = the
                                           // frame-pointer stacks only
};

struct DecoderCounts {
  int64_t events = 0;  // records ingested
  int64_t cuda_calls = 0;
  int64_t switches = 0;
  int64_t wakeups = 0;
  int64_t syscalls = 0;
  int64_t block_ios = 0;
  int64_t process_events = 0;
  int64_t thread_states = 0;  // intervals written
  int64_t migrations = 0;     // queued traced threads moved to another CPU
  int64_t cpu_slices = 0;     // who-held-the-CPU stretches written
  int64_t cpu_seq_gaps = 0;   // switches seen after missed ones on the same CPU (no slice)
  // Switches numbered next after the last one seen on their CPU whose previous task is not the
  // one that switch put there (or that came earlier in time): the stretch is left unnamed.
  int64_t cpu_holder_breaks = 0;
  int64_t switches_missed = 0;  // traced threads seen leaving a CPU they were not seen taking
  int64_t malformed = 0;        // records too short, of unknown kind or with a time beyond 2^61 ns
                                // (skipped)
};

// Callbacks for events the capture session must act on.
struct DecoderHooks {
  // A traced process's dynamic loader changed its link map (stopped: SIGSTOP was sent).
  std::function<void(int32_t pid, bool stopped)> on_lib_load;
  // First event of a process not seen before (e.g. enrolled by --all, or a fork child).
  std::function<void(int32_t pid)> on_new_process;
};

class Decoder {
 public:
  Decoder(RowSink& sink, const CudaFunctionTable& functions, DecoderOptions options,
          DecoderHooks hooks = {});

  // Decodes one record. A failed Status means the sink failed (e.g. disk full): the caller
  // should stop; malformed records are counted and skipped, not errors.
  Status ingest(std::span<const uint8_t> record);

  // Process `pid` is traced from the trace start (the launched command, a --pid target): a
  // thread of it whose first record is a switch-out ran since the start. Without this, such a
  // thread's time before its first switch is unknown (a process enrolled later by --all).
  void traced_from_start(int32_t pid) { from_start_.insert(pid); }

  // Closes every open interval at `end_ns` and writes everything still buffered.
  Status finish(int64_t end_ns);

  const DecoderCounts& counts() const { return counts_; }

 private:
  struct Task {
    int32_t pid = 0;
    bool traced = false;
    bool dead = false;
    std::string comm;
    bool comm_noted = false;
    std::optional<int64_t> start_ts;
    std::optional<int64_t> end_ts;
    // Scheduling state: kNone before the first switch is seen.
    enum class Where : uint8_t { kUnknown, kOnCpu, kOffCpu } where = Where::kUnknown;
    int64_t since = 0;  // when the current on/off-CPU period began
    int32_t cpu = -1;
    // Off-CPU details, valid while where == kOffCpu.
    store::ThreadState off_state = store::ThreadState::kRunnable;
    int64_t kernel_state = 0;
    int32_t syscall_nr = -1;
    int64_t syscall_ts = 0;
    int32_t preempter_pid = 0, preempter_tid = 0;
    bool has_preempter = false;
    store::StackId stack = 0;
    store::StackId py_stack = 0;  // Python stack when it blocked
    int64_t woken_ts = 0;         // 0 = no wakeup seen yet
    int32_t waker_pid = 0, waker_tid = 0;
    std::optional<store::WakerContext> waker_context;
    int32_t woken_cpu = -1;  // CPU it was queued on by that wakeup (-1 unknown)
    // Blocked intervals waiting for their syscall's row id (the syscall ends later).
    std::vector<store::ThreadStateRow> pending;
    int64_t pending_syscall_ts = 0;
  };
  struct Process {
    store::ProcessInfo info;
    bool noted = false;
  };

  Status on_cuda(std::span<const uint8_t> rec);
  Status on_switch(std::span<const uint8_t> rec);
  Status on_wakeup(std::span<const uint8_t> rec);
  Status on_fork(std::span<const uint8_t> rec);
  Status on_exec(std::span<const uint8_t> rec);
  Status on_exit(std::span<const uint8_t> rec);
  Status on_syscall(std::span<const uint8_t> rec);
  Status on_block_io(std::span<const uint8_t> rec);
  Status on_oom(std::span<const uint8_t> rec);
  Status on_lib_load(std::span<const uint8_t> rec);
  Status on_migrate(std::span<const uint8_t> rec);

  // The CPU timeline (cpu_slice rows): what the recorder says about who is on a CPU.
  // cpu_switch: switch number `seq` on `cpu` at `ts` handed it from prev to next.
  // cpu_seen: `tid` was on `cpu` at `ts`, the CPU's last switch then being number `seq`.
  Status cpu_switch(uint32_t cpu, uint64_t seq, int64_t ts, int32_t prev_tid, int32_t next_pid,
                    int32_t next_tid);
  void cpu_seen(uint32_t cpu, uint64_t seq, int64_t ts, int32_t pid, int32_t tid);
  // A queued thread moved to `cpu` at `ts`: its runnable interval so far is closed there.
  Status requeue(int32_t tid, Task& t, int64_t ts, int32_t cpu);
  // A thread stopped waiting for `cpu` at `ts` without taking it: the stretch of the task that
  // holds `cpu` is written up to `ts` and stays open from there.
  Status cut_cpu_stretch(uint32_t cpu, int64_t ts);

  Task& task(int32_t pid, int32_t tid);
  Status see_task(int32_t pid, int32_t tid, const char* comm, bool traced);
  Status note_task(int32_t tid, Task& t);
  Process& process(int32_t pid);
  Status note_process(Process& p);
  Status close_on_cpu(int32_t tid, Task& t, int64_t ts);
  Status close_off_cpu(int32_t tid, Task& t, int64_t ts);
  Status emit_state(int32_t tid, Task& t, store::ThreadStateRow row);
  Status flush_pending(Task& t, std::optional<store::RowId> syscall_row);
  store::StringId function_name(uint32_t id);
  store::StringId syscall_string(int32_t nr);
  // The stack to store for an event of `pid`/`tid` at `ts`: the frame-pointer walk `fp`, or
  // the DWARF-unwound frames of its CW_EV_USER_STACK record (choose_stack()).
  store::StackId intern_stack(int32_t pid, int32_t tid, int64_t ts, std::span<const uint64_t> fp);

  RowSink& sink_;
  const CudaFunctionTable& functions_;
  DecoderOptions options_;
  DecoderHooks hooks_;
  DecoderCounts counts_;
  std::array<bool, CW_MAX_SYSCALL_NR> recorded_{};
  // What is known of one CPU: the task that got it at switch number `seq` (or was seen on
  // it then), since `since`. A slice is written only between consecutive switch numbers.
  struct CpuTrack {
    bool known = false;
    int32_t pid = 0, tid = 0;  // 0 = idle
    int64_t since = 0;
    uint64_t seq = 0;
  };
  // Writes the cpu_slice row of `holder`'s stretch on `cpu`, from its start to `until`.
  Status add_slice(uint32_t cpu, const CpuTrack& holder, int64_t until);
  // Per CPU: the stretch its last processed switch started (`at`), and what a wakeup reported
  // of a later one (`seen`: its switch was not recorded, or its record comes later, since
  // records of different CPUs can reach us out of order).
  struct CpuState {
    CpuTrack at;
    CpuTrack seen;
  };
  std::vector<CpuState> cpus_;                      // by CPU number
  std::unordered_set<int32_t> from_start_;          // pids traced from the trace start
  std::unordered_map<int32_t, Task> tasks_;         // by tid
  std::unordered_map<int32_t, Process> processes_;  // by pid
  std::unordered_map<uint32_t, store::StringId> function_names_;
  std::unordered_map<int32_t, store::StringId> syscall_names_;
  std::vector<uint64_t> dwarf_frames_;  // reused buffer
};

}  // namespace causeway::capture

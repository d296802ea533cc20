#include "store/schema.h"

#include <sstream>

namespace causeway::store {
namespace {

// Shared column descriptions, so the same concept reads the same everywhere.
constexpr std::string_view kTsMeaning =
    "start time, ns since the trace origin (meta origin_monotonic_ns)";
constexpr std::string_view kDurMeaning = "duration, ns";
constexpr std::string_view kEndMeaning = "ts + dur, ns since the trace origin";
// store::WakerContext, as stored and as the views name it.
constexpr std::string_view kWakerContextMeaning =
    "how the wakeup came, seen in the waker's own context: 0 task (waker_utid woke it), 1 "
    "hardirq, 2 softirq, 3 timer (a timeout or sleep ended: nobody woke it), 4 nmi; NULL = "
    "unknown (then waker_utid is only the task running where the wakeup completed)";
constexpr std::string_view kWakerContextName =
    "task, hardirq, softirq, timer, nmi, or NULL when unknown";
#define WAKER_CONTEXT_CASE(t)                                                      \
  "CASE " t                                                                        \
  ".waker_context WHEN 0 THEN 'task' WHEN 1 THEN 'hardirq' WHEN 2 THEN 'softirq' " \
  "WHEN 3 THEN 'timer' WHEN 4 THEN 'nmi' END"

ColumnDef id_col(std::string_view meaning) {
  return {"id", "INTEGER", "id", meaning, "PRIMARY KEY"};
}

Schema build_schema() {
  Schema s;
  s.version = kSchemaVersion;
  s.conventions = {
      "All times are integer nanoseconds. `ts` columns are relative to the trace origin (ts 0 = "
      "meta `origin_monotonic_ns` on CLOCK_MONOTONIC); Unix wall-clock ns = ts + meta "
      "`origin_realtime_ns`. `dur` is a duration; `end_ts` (views) = ts + dur.",
      "Processes and threads are referred to by `upid` / `utid`: ids unique within the trace. "
      "Kernel pids and tids are reused; upids and utids never are. Threads that are not traced "
      "(e.g. a task that preempted or woke a traced thread) appear too, with traced = 0.",
      "Each event table numbers its own rows (`id`, the SQLite rowid); an event id is "
      "meaningful together with its table name (e.g. cuda_call 1882).",
      "NULL means not applicable or not known (e.g. `bytes` of a kernel launch).",
      "Repeated strings live in `string` and are referenced by `*_id` columns; the views "
      "(plural names: cuda_calls, thread_states, syscalls, ...) join names in and are the "
      "easiest place to start. For heavy aggregations over millions of rows prefer the raw "
      "tables with the indexed columns (utid, ts, function_id).",
      "Fast queries on big traces (millions of rows): filter and sort on the raw tables' indexed "
      "columns (utid + ts, function_id + dur), then fetch names from the view by id, e.g. "
      "SELECT * FROM cuda_calls WHERE id IN (SELECT id FROM cuda_call WHERE function_id = "
      "(SELECT id FROM string WHERE str = 'cudaStreamSynchronize') ORDER BY dur DESC LIMIT 10). "
      "Filtering a view on a joined name (WHERE function = ...) scans every row.",
      "Sizes are bytes. Addresses and pointers are stored as signed 64-bit integers (values "
      ">= 2^63, i.e. kernel addresses, appear negative); printf('%#x', addr) shows them in hex.",
  };

  // ---- tables ---------------------------------------------------------------------------
  s.tables.push_back(
      {"process",
       "One row per process (thread group) seen in the trace, traced or not. A pid reused after "
       "an exit gets a new upid.",
       {
           {"upid", "INTEGER", "id", "process id unique within this trace", "PRIMARY KEY"},
           {"pid", "INTEGER", "", "kernel process id (tgid)", "NOT NULL"},
           {"ppid", "INTEGER", "", "parent's pid, when known", ""},
           {"parent_upid", "INTEGER", "id -> process.upid", "parent process, when known", ""},
           {"name", "TEXT", "", "process name (comm of the main thread)", ""},
           {"cmdline", "TEXT", "", "command line, arguments joined by spaces, when known", ""},
           {"start_ts", "INTEGER", "ns",
            "start, ns since the trace origin; NULL if it started "
            "before the trace or is unknown",
            ""},
           {"end_ts", "INTEGER", "ns",
            "exit, ns since the trace origin; NULL if still alive at "
            "the end of the trace or unknown",
            ""},
           {"exit_code", "INTEGER", "", "wait-status style exit code (exit status or signal)", ""},
           {"traced", "INTEGER", "bool", "1 if the process was part of the traced set", "NOT NULL"},
       }});
  s.tables.push_back(
      {"thread",
       "One row per thread (kernel task) seen in the trace, traced or not. A tid reused after an "
       "exit gets a new utid.",
       {
           {"utid", "INTEGER", "id", "thread id unique within this trace", "PRIMARY KEY"},
           {"tid", "INTEGER", "", "kernel thread id", "NOT NULL"},
           {"upid", "INTEGER", "id -> process.upid", "process the thread belongs to", ""},
           {"name", "TEXT", "", "thread name (comm, at most 15 characters)", ""},
           {"start_ts", "INTEGER", "ns", "start, ns since the trace origin; NULL if unknown", ""},
           {"end_ts", "INTEGER", "ns", "exit, ns since the trace origin; NULL if alive/unknown",
            ""},
           {"traced", "INTEGER", "bool", "1 if the thread was part of the traced set", "NOT NULL"},
       }});
  s.tables.push_back(
      {"string",
       "Interned strings (CUDA function names, kernel names, file names).",
       {
           {"id", "INTEGER", "id", "string id (referenced by the `*_id` columns)", "PRIMARY KEY"},
           {"str", "TEXT", "", "the string", "NOT NULL"},
       }});
  s.tables.push_back(
      {"cuda_call",
       "One row per CUDA runtime or driver API call, from entry to return (a "
       "slice). Columns that do not apply to a function are NULL.",
       {
           id_col("event id of the call"),
           {"ts", "INTEGER", "ns", "entry time, ns since the trace origin", "NOT NULL"},
           {"dur", "INTEGER", "ns", "return time - entry time, ns", "NOT NULL"},
           {"utid", "INTEGER", "id -> thread.utid", "calling thread", "NOT NULL"},
           {"function_id", "INTEGER", "id -> string.id",
            "API function as probed, e.g. cudaMemcpyAsync, cuLaunchKernel", "NOT NULL"},
           {"ret", "INTEGER", "", "return value (cudaError_t / CUresult); 0 = success", "NOT NULL"},
           {"stream_id", "INTEGER", "id -> cuda_stream.id", "stream the call was issued on", ""},
           {"kernel_id", "INTEGER", "id -> cuda_kernel.id", "launched kernel", ""},
           {"grid", "INTEGER", "packed dims",
            "launch grid (x,y,z) packed; use the cuda_calls view's grid_x/y/z", ""},
           {"block", "INTEGER", "packed dims",
            "launch block (x,y,z) packed; use the cuda_calls view's block_x/y/z", ""},
           {"bytes", "INTEGER", "bytes", "bytes copied, allocated or set", ""},
           {"copy_kind", "INTEGER", "enum",
            "cudaMemcpyKind: 0 HtoH, 1 HtoD, 2 DtoH, 3 DtoD, 4 default", ""},
           {"device_ptr", "INTEGER", "address",
            "device pointer allocated, freed, copied to/from or set", ""},
           {"host_ptr", "INTEGER", "address", "host pointer of a copy", ""},
           {"stack_id", "INTEGER", "id -> stack.id", "user stack at entry", ""},
           {"py_stack_id", "INTEGER", "id -> python_stack.id",
            "Python stack at entry (CPython processes only)", ""},
       }});
  s.tables.push_back(
      {"cuda_stream",
       "CUDA streams seen in calls, one row per (process, handle).",
       {
           id_col("stream id (referenced by cuda_call.stream_id)"),
           {"upid", "INTEGER", "id -> process.upid", "process owning the stream", "NOT NULL"},
           {"handle", "INTEGER", "address",
            "cudaStream_t / CUstream value; 0 = legacy default stream", "NOT NULL"},
       }});
  s.tables.push_back(
      {"cuda_kernel",
       "Kernels seen in launches, one row per (process, address passed to the launch). Named "
       "when stacks are symbolized (end of `causeway trace`, `causeway finish`; "
       "docs/stacks.md#kernel-names).",
       {
           id_col("kernel id (referenced by cuda_call.kernel_id)"),
           {"upid", "INTEGER", "id -> process.upid", "launching process", "NOT NULL"},
           {"addr", "INTEGER", "address",
            "host function pointer of a runtime launch (cudaLaunchKernel `func`); CUfunction "
            "handle of a driver launch (cuLaunchKernel `f`)",
            ""},
           {"name_id", "INTEGER", "id -> string.id",
            "kernel name, demangled with parameters, from the symbol at `addr` in the traced "
            "binary (a device stub named after its kernel); NULL when only driver launches used "
            "the row (a CUfunction is a handle, not code), or when the binary changed since the "
            "trace, is gone or has no symbol there",
            ""},
       }});
  s.tables.push_back(
      {"thread_state",
       "Scheduling intervals of traced threads: each row is a period in one state. running = on "
       "a CPU; runnable = preempted, waiting for a CPU; sleeping / uninterruptible = blocked.",
       {
           id_col("event id of the interval"),
           {"ts", "INTEGER", "ns", kTsMeaning, "NOT NULL"},
           {"dur", "INTEGER", "ns", kDurMeaning, "NOT NULL"},
           {"utid", "INTEGER", "id -> thread.utid", "the thread", "NOT NULL"},
           {"state", "INTEGER", "enum",
            "0 running, 1 runnable (preempted), 2 sleeping (S), 3 uninterruptible (D), 4 other",
            "NOT NULL"},
           {"cpu", "INTEGER", "", "CPU it ran on (running) or last ran on (other states)", ""},
           {"kernel_state", "INTEGER", "bitmask",
            "raw prev_state from sched_switch (off-CPU states only)", ""},
           {"syscall_nr", "INTEGER", "", "x86_64 number of the syscall in progress while blocked",
            ""},
           {"syscall_id", "INTEGER", "id -> syscall.id", "that syscall's row, when known", ""},
           {"waker_utid", "INTEGER", "id -> thread.utid",
            "blocked intervals: the thread that woke it", ""},
           {"preempter_utid", "INTEGER", "id -> thread.utid",
            "runnable intervals: the task that switched in as the thread left the CPU; not "
            "necessarily who held it while the thread waited (that is in cpu_slice)",
            ""},
           {"stack_id", "INTEGER", "id -> stack.id",
            "user stack when it blocked (not when preempted)", ""},
           {"py_stack_id", "INTEGER", "id -> python_stack.id",
            "Python stack when it blocked (CPython processes only)", ""},
           {"waker_context", "INTEGER", "enum", kWakerContextMeaning, ""},
       }});
  s.tables.push_back(
      {"wakeup",
       "Wakeups of traced threads (sched_wakeup / sched_wakeup_new).",
       {
           id_col("event id of the wakeup"),
           {"ts", "INTEGER", "ns", "time of the wakeup, ns since the trace origin", "NOT NULL"},
           {"wakee_utid", "INTEGER", "id -> thread.utid", "thread woken", "NOT NULL"},
           {"waker_utid", "INTEGER", "id -> thread.utid",
            "the thread that woke it, seen in its own context (sched_waking); NULL when an "
            "interrupt, softirq or timer woke it (waker_context says which)",
            ""},
           {"target_cpu", "INTEGER", "", "CPU the wakee was queued on", ""},
           {"waker_context", "INTEGER", "enum", kWakerContextMeaning, ""},
       }});
  s.tables.push_back(
      {"cpu_slice",
       "Who held a CPU: one row per stretch between two consecutive context switches on that "
       "CPU, recorded while a traced thread ran on it or waited for it (runnable), so SQL can "
       "answer \"who held CPU c while thread t waited\" for traced and untraced tasks alike. "
       "The recorder numbers every switch of every CPU; a stretch whose switches were not both "
       "seen (no traced thread was waiting there in between) is left out rather than guessed, so "
       "a time with no row on a CPU means unknown, not idle.",
       {
           id_col("slice id"),
           {"ts", "INTEGER", "ns",
            "when the task got the CPU (or when the recorder first saw it there)", "NOT NULL"},
           {"dur", "INTEGER", "ns", "how long it kept the CPU, ns", "NOT NULL"},
           {"cpu", "INTEGER", "", "the CPU", "NOT NULL"},
           {"utid", "INTEGER", "id -> thread.utid", "the task on the CPU; NULL = the CPU was idle",
            ""},
       }});
  s.tables.push_back(
      {"syscall",
       "System calls of traced threads, from entry to exit. Argument columns are NULL when they "
       "do not apply.",
       {
           id_col("event id of the syscall"),
           {"ts", "INTEGER", "ns", "entry time, ns since the trace origin", "NOT NULL"},
           {"dur", "INTEGER", "ns", "exit time - entry time, ns", "NOT NULL"},
           {"utid", "INTEGER", "id -> thread.utid", "calling thread", "NOT NULL"},
           {"nr", "INTEGER", "", "x86_64 syscall number (name in syscall_name)", "NOT NULL"},
           {"ret", "INTEGER", "", "return value (negative errno on failure)", ""},
           {"fd", "INTEGER", "", "file descriptor argument", ""},
           {"bytes", "INTEGER", "bytes", "requested count of read/write-like calls", ""},
           {"addr", "INTEGER", "address", "address argument (futex uaddr, mmap addr)", ""},
           {"op", "INTEGER", "", "operation argument (futex op, ioctl request)", ""},
           {"stack_id", "INTEGER", "id -> stack.id",
            "always NULL: causeway records no stack at syscall entry (column kept for the file "
            "format). A syscall that blocked has the blocked interval's stack in "
            "thread_state.stack_id (the row whose syscall_id is this id)",
            ""},
       }});
  s.tables.push_back({"syscall_name",
                      "Names of the syscall numbers that occur in the trace.",
                      {
                          {"nr", "INTEGER", "", "x86_64 syscall number", "PRIMARY KEY"},
                          {"name", "TEXT", "", "syscall name, e.g. futex", "NOT NULL"},
                      }});
  s.tables.push_back(
      {"block_io",
       "Block I/O requests issued on behalf of traced processes.",
       {
           id_col("event id of the request"),
           {"ts", "INTEGER", "ns", "queue insertion (or issue) time, ns since the trace origin",
            "NOT NULL"},
           {"dur", "INTEGER", "ns", "until completion, ns", "NOT NULL"},
           {"queue_dur", "INTEGER", "ns", "insertion -> issue to the device, ns", ""},
           {"service_dur", "INTEGER", "ns", "issue -> completion, ns", ""},
           {"utid", "INTEGER", "id -> thread.utid", "submitting thread", "NOT NULL"},
           {"dev", "INTEGER", "dev_t",
            "device number (major << 20) | minor; see block_ios.dev_major/dev_minor", "NOT NULL"},
           {"sector", "INTEGER", "512-byte sectors", "first sector", ""},
           {"bytes", "INTEGER", "bytes", "request size", "NOT NULL"},
           {"op", "TEXT", "", "R read, W write, F flush, D discard, ? other", "NOT NULL"},
           {"error", "INTEGER", "", "completion error (0 = ok)", "NOT NULL"},
       }});
  s.tables.push_back(
      {"process_event",
       "Process lifecycle: fork, exec, exit, OOM kill.",
       {
           id_col("event id"),
           {"ts", "INTEGER", "ns", "time, ns since the trace origin", "NOT NULL"},
           {"kind", "INTEGER", "enum", "0 fork, 1 exec, 2 exit, 3 oom_kill", "NOT NULL"},
           {"upid", "INTEGER", "id -> process.upid", "process concerned", "NOT NULL"},
           {"utid", "INTEGER", "id -> thread.utid", "thread concerned", ""},
           {"other_upid", "INTEGER", "id -> process.upid", "fork: the child; oom_kill: the victim",
            ""},
           {"exit_code", "INTEGER", "", "exit: wait-status style code", ""},
           {"filename_id", "INTEGER", "id -> string.id", "exec: the new image", ""},
       }});
  s.tables.push_back({"stack",
                      "Deduplicated user call stacks (raw addresses; see stack_frame).",
                      {
                          id_col("stack id (referenced by *.stack_id)"),
                          {"upid", "INTEGER", "id -> process.upid",
                           "process whose address space the frames belong to", "NOT NULL"},
                          {"depth", "INTEGER", "frames", "number of frames", "NOT NULL"},
                      }});
  s.tables.push_back(
      {"stack_frame",
       "Frames of each stack, innermost first.",
       {
           {"stack_id", "INTEGER", "id -> stack.id", "the stack", "NOT NULL"},
           {"depth", "INTEGER", "", "0 = innermost frame (where the call was)", "NOT NULL"},
           {"pc", "INTEGER", "address", "return/instruction address", "NOT NULL"},
       },
       " WITHOUT ROWID",
       "stack_id, depth"});
  // Python stacks: the interpreter frames of a CPython thread (see docs/stacks.md). The text
  // columns hold the names directly (no string ids): a deduplicated stack stores each frame
  // once, and the native-stack merge (src/symbolize) reads (function, file, line, entry).
  s.tables.push_back(
      {"python_stack",
       "Deduplicated Python stacks of CPython threads (frames in python_frame).",
       {
           id_col("Python stack id (referenced by *.py_stack_id)"),
           {"upid", "INTEGER", "id -> process.upid", "the Python process", "NOT NULL"},
           {"depth", "INTEGER", "frames", "number of frames", "NOT NULL"},
       }});
  s.tables.push_back(
      {"python_frame",
       "Frames of each Python stack, innermost first.",
       {
           {"stack_id", "INTEGER", "id -> python_stack.id", "the Python stack", "NOT NULL"},
           {"depth", "INTEGER", "", "0 = innermost frame (the Python line that made the call)",
            "NOT NULL"},
           {"function", "TEXT", "",
            "qualified name (co_qualname; co_name on 3.10); '<unresolved: why>' when the code "
            "object could not be read",
            "NOT NULL"},
           {"file", "TEXT", "", "source file (co_filename); NULL when unresolved", ""},
           {"line", "INTEGER", "", "line being executed; NULL when unknown", ""},
           {"entry", "INTEGER", "bool",
            "1 when the frame was entered from C: one native _PyEval_EvalFrameDefault call "
            "runs it and the frames above it up to the next entry frame",
            "NOT NULL"},
       },
       " WITHOUT ROWID",
       "stack_id, depth"});
  s.tables.push_back(
      {"mapping",
       "Executable memory mappings of traced processes, for symbolizing stack addresses.",
       {
           id_col("mapping id"),
           {"upid", "INTEGER", "id -> process.upid", "the process", "NOT NULL"},
           {"start_addr", "INTEGER", "address", "first address of the mapping", "NOT NULL"},
           {"end_addr", "INTEGER", "address", "one past the last address", "NOT NULL"},
           {"file_offset", "INTEGER", "bytes", "file offset mapped at start_addr", "NOT NULL"},
           {"path", "TEXT", "", "mapped file", ""},
           {"build_id", "TEXT", "hex", "ELF build id; NULL when the file has none", ""},
           {"file_size", "INTEGER", "bytes",
            "file size when mapped, recorded only for a file without a build id (checked with "
            "file_mtime_ns before symbolizing it instead of the build id); NULL otherwise and "
            "in traces recorded before causeway recorded it",
            ""},
           {"file_mtime_ns", "INTEGER", "ns",
            "file modification time when mapped (ns since the Unix epoch); set with file_size", ""},
       }});
  s.tables.push_back(
      {"symbol",
       "Deduplicated results of symbolizing stack addresses (function, source file, line, "
       "module). Filled at the end of `causeway trace` (or by `causeway finish` / `causeway "
       "stacks`); empty in a "
       "trace not yet symbolized. Easiest through the stack_symbols view.",
       {
           id_col("symbol id (referenced by frame_symbol.symbol_id)"),
           {"function", "TEXT", "", "demangled function name; NULL when unknown", ""},
           {"file", "TEXT", "", "source file from DWARF; NULL without line information", ""},
           {"line", "INTEGER", "", "source line (calls: the line of the call); NULL if unknown",
            ""},
           {"module", "TEXT", "", "mapped file (executable or shared library)", ""},
           {"kind", "TEXT", "enum",
            "native (function+file+line), symbol (function only), unresolved (module+offset), "
            "binary_changed (build-id, or for a file without one its size and mtime, differs "
            "from the trace's; not symbolized), binary_unverified (the file has no build-id and "
            "the trace recorded no size and mtime to check it by; not symbolized), "
            "binary_missing, no_mapping; in merged stacks also python (a CPython frame) and "
            "python_appended (a "
            "CPython frame placed after the last trustworthy native frame: the native frames "
            "between are unknown)",
            "NOT NULL"},
       }});
  s.tables.push_back(
      {"frame_symbol",
       "Frames of each distinct (process, address) found in stacks: several rows when "
       "functions were inlined (idx 0 = innermost inlined callee, the last = the function "
       "owning the code).",
       {
           {"upid", "INTEGER", "id -> process.upid", "process", "NOT NULL"},
           {"pc", "INTEGER", "address",
            "address looked up: stack_frame.pc for depth 0, pc - 1 for deeper frames (return "
            "addresses; pc - 1 is inside the call instruction)",
            "NOT NULL"},
           {"idx", "INTEGER", "", "0 = innermost inlined frame", "NOT NULL"},
           {"symbol_id", "INTEGER", "id -> symbol.id", "the frame's symbol", "NOT NULL"},
           {"inlined", "INTEGER", "bool", "1 if inlined into the next frame (idx + 1)", "NOT NULL"},
           {"module_offset", "INTEGER", "bytes", "file offset of pc in symbol.module", ""},
       },
       " WITHOUT ROWID",
       "upid, pc, idx"});
  // Merged stacks are a property of an event's (stack_id, py_stack_id) pair, not of a native
  // stack: the same native stack (e.g. through the interpreter's eval loop) runs different
  // Python code in different events. So they get their own ids rather than rows in
  // stack_symbols (docs/stacks.md, "In SQL").
  s.tables.push_back(
      {"merged_stack",
       "Each distinct (native stack, Python stack) pair of the trace's events, whose frames "
       "merged as `causeway stacks` shows them are in merged_frame. Filled when the trace is "
       "symbolized; empty before.",
       {
           id_col("merged stack id (cuda_calls.merged_stack_id, thread_states.merged_stack_id)"),
           {"stack_id", "INTEGER", "id -> stack.id", "native stack; NULL when the event had none",
            ""},
           {"py_stack_id", "INTEGER", "id -> python_stack.id",
            "Python stack; NULL when the event had none", ""},
           {"depth", "INTEGER", "frames", "number of merged frames", "NOT NULL"},
       }});
  s.tables.push_back(
      {"merged_frame",
       "Frames of each merged stack, innermost first: native frames (inlined functions "
       "expanded) with each eval-loop frame replaced by the Python frames it ran.",
       {
           {"merged_stack_id", "INTEGER", "id -> merged_stack.id", "the merged stack", "NOT NULL"},
           {"depth", "INTEGER", "", "0 = innermost frame", "NOT NULL"},
           {"symbol_id", "INTEGER", "id -> symbol.id", "the frame's symbol", "NOT NULL"},
           {"pc", "INTEGER", "address", "captured address (native frames); NULL for Python frames",
            ""},
           {"module_offset", "INTEGER", "bytes",
            "file offset of the looked-up address in symbol.module; NULL for Python and "
            "unmapped frames",
            ""},
           {"inlined", "INTEGER", "bool", "1 if inlined into the next frame (depth + 1)",
            "NOT NULL"},
       },
       " WITHOUT ROWID",
       "merged_stack_id, depth"});
  s.tables.push_back(
      {"causal_chain",
       "The causal chains (`causeway explain`): ranked explanations of why the workload was "
       "slow. Written by the analysis at the end of `causeway trace` (and by `explain`, `stats` "
       "or `finish` on a writable file when missing or stale); current only while meta "
       "`analysis_version` and `analysis_fingerprint` match this build and the trace. Empty "
       "until then; the MCP server computes chains in memory instead.",
       {
           {"id", "INTEGER", "", "rank, 1 = most severe and largest impact", "PRIMARY KEY"},
           {"severity", "TEXT", "", "high, medium or low", "NOT NULL"},
           {"category", "TEXT", "",
            "stable cause word: cpu_contention, cpu_throttling, lock_wait, blocked_io, "
            "data_loader, peer_wait, "
            "host_sync, allocator_churn, pageable_copy, gpu_starvation, phase_shift, ... "
            "(docs/explain.md)",
            "NOT NULL"},
           {"kind", "TEXT", "",
            "what was analysed: slow_calls, gpu_gaps, thread (a whole span) or pattern", ""},
           {"pid", "INTEGER", "", "process of the slowed thread", ""},
           {"tid", "INTEGER", "", "the slowed thread", ""},
           {"comm", "TEXT", "", "its name", ""},
           {"function", "TEXT", "", "CUDA function concerned, if any", ""},
           {"impact_ns", "INTEGER", "ns", "time lost", "NOT NULL"},
           {"summary", "TEXT", "", "one-line headline", "NOT NULL"},
           {"json", "TEXT", "",
            "the whole chain as JSON (explanation, culprit, decomposition, waker chain, "
            "evidence as {table, id}, recommendation), as `causeway explain --json` prints it",
            "NOT NULL"},
       }});
  s.tables.push_back(
      {"analysis_result",
       "Results of the analysis stored with the chains (same freshness rule): name "
       "'trace_stats' = the trace summary and per-function latency percentiles of `causeway "
       "stats --json`.",
       {
           {"name", "TEXT", "", "result name, e.g. trace_stats", "PRIMARY KEY"},
           {"json", "TEXT", "", "the result as JSON", "NOT NULL"},
       }});
  s.tables.push_back({"meta",
                      "Facts about the trace as key/value text (see the meta keys below).",
                      {
                          {"key", "TEXT", "", "key", "PRIMARY KEY"},
                          {"value", "TEXT", "", "value (numbers are decimal text)", ""},
                      },
                      " WITHOUT ROWID"});

  // ---- views ----------------------------------------------------------------------------
  s.views.push_back(
      {"cuda_calls",
       "cuda_call with function, thread, process, stream and kernel names joined and launch "
       "dims unpacked.",
       {
           {"id", "INTEGER", "id", "cuda_call.id", ""},
           {"ts", "INTEGER", "ns", "entry time, ns since the trace origin", ""},
           {"dur", "INTEGER", "ns", "duration, ns", ""},
           {"end_ts", "INTEGER", "ns", kEndMeaning, ""},
           {"function", "TEXT", "", "API function name", ""},
           {"ret", "INTEGER", "", "return code; 0 = success", ""},
           {"utid", "INTEGER", "id", "calling thread", ""},
           {"tid", "INTEGER", "", "calling thread's tid", ""},
           {"thread_name", "TEXT", "", "calling thread's name", ""},
           {"upid", "INTEGER", "id", "calling process", ""},
           {"pid", "INTEGER", "", "calling process's pid", ""},
           {"process_name", "TEXT", "", "calling process's name", ""},
           {"stream", "INTEGER", "address", "stream handle (0 = legacy default stream)", ""},
           {"stream_id", "INTEGER", "id", "cuda_stream.id", ""},
           {"kernel", "TEXT", "", "kernel name (cuda_kernel.name_id); NULL when not known", ""},
           {"kernel_addr", "INTEGER", "address",
            "cuda_kernel.addr: host function (runtime launch) or CUfunction (driver launch)", ""},
           {"grid_x", "INTEGER", "", "launch grid x", ""},
           {"grid_y", "INTEGER", "", "launch grid y", ""},
           {"grid_z", "INTEGER", "", "launch grid z", ""},
           {"block_x", "INTEGER", "", "launch block x", ""},
           {"block_y", "INTEGER", "", "launch block y", ""},
           {"block_z", "INTEGER", "", "launch block z", ""},
           {"bytes", "INTEGER", "bytes", "bytes copied, allocated or set", ""},
           {"copy_kind", "TEXT", "", "HtoH, HtoD, DtoH, DtoD or default", ""},
           {"device_ptr", "INTEGER", "address", "device pointer", ""},
           {"host_ptr", "INTEGER", "address", "host pointer of a copy", ""},
           {"stack_id", "INTEGER", "id", "user stack at entry", ""},
           {"py_stack_id", "INTEGER", "id", "Python stack at entry (python_frame)", ""},
           {"merged_stack_id", "INTEGER", "id",
            "native and Python stack merged (merged_stack_symbols); NULL until symbolized", ""},
       },
       "SELECT c.id, c.ts, c.dur, c.ts + c.dur AS end_ts, fs.str AS function, c.ret, c.utid, "
       "t.tid, t.name AS thread_name, t.upid, p.pid, p.name AS process_name, "
       "st.handle AS stream, c.stream_id, ks.str AS kernel, k.addr AS kernel_addr, "
       "c.grid & 2147483647 AS grid_x, ((c.grid >> 31) + 1) & 65535 AS grid_y, "
       "((c.grid >> 47) + 1) & 65535 AS grid_z, c.block & 2147483647 AS block_x, "
       "((c.block >> 31) + 1) & 65535 AS block_y, ((c.block >> 47) + 1) & 65535 AS block_z, "
       "c.bytes, CASE c.copy_kind WHEN 0 THEN 'HtoH' WHEN 1 THEN 'HtoD' WHEN 2 THEN 'DtoH' "
       "WHEN 3 THEN 'DtoD' WHEN 4 THEN 'default' END AS copy_kind, c.device_ptr, c.host_ptr, "
       "c.stack_id, c.py_stack_id, (SELECT m.id FROM merged_stack m WHERE m.stack_id IS "
       "c.stack_id AND m.py_stack_id IS c.py_stack_id AND coalesce(c.stack_id, c.py_stack_id) "
       "IS NOT NULL) AS merged_stack_id "
       "FROM cuda_call c LEFT JOIN thread t ON t.utid = c.utid "
       "LEFT JOIN process p ON p.upid = t.upid LEFT JOIN string fs ON fs.id = c.function_id "
       "LEFT JOIN cuda_stream st ON st.id = c.stream_id "
       "LEFT JOIN cuda_kernel k ON k.id = c.kernel_id LEFT JOIN string ks ON ks.id = k.name_id"});
  s.views.push_back(
      {"thread_states",
       "thread_state with state names and thread, syscall, waker and preempter names joined.",
       {
           {"id", "INTEGER", "id", "thread_state.id", ""},
           {"ts", "INTEGER", "ns", kTsMeaning, ""},
           {"dur", "INTEGER", "ns", kDurMeaning, ""},
           {"end_ts", "INTEGER", "ns", kEndMeaning, ""},
           {"state", "TEXT", "", "running, runnable, sleeping, uninterruptible or other", ""},
           {"cpu", "INTEGER", "", "CPU ran on / last ran on", ""},
           {"kernel_state", "INTEGER", "bitmask", "raw prev_state", ""},
           {"utid", "INTEGER", "id", "the thread", ""},
           {"tid", "INTEGER", "", "its tid", ""},
           {"thread_name", "TEXT", "", "its name", ""},
           {"pid", "INTEGER", "", "its process's pid", ""},
           {"process_name", "TEXT", "", "its process's name", ""},
           {"syscall", "TEXT", "", "syscall in progress while blocked", ""},
           {"syscall_id", "INTEGER", "id", "that syscall's syscall.id", ""},
           {"waker_utid", "INTEGER", "id", "who woke it (blocked intervals)", ""},
           {"waker_tid", "INTEGER", "", "waker's tid", ""},
           {"waker_name", "TEXT", "", "waker's thread name", ""},
           {"waker_pid", "INTEGER", "", "waker's pid", ""},
           {"waker_process", "TEXT", "", "waker's process name", ""},
           {"preempter_utid", "INTEGER", "id",
            "who switched in as the thread left the CPU (runnable intervals; who held it "
            "meanwhile is in cpu_slices)",
            ""},
           {"preempter_tid", "INTEGER", "", "preempter's tid", ""},
           {"preempter_name", "TEXT", "", "preempter's thread name", ""},
           {"preempter_pid", "INTEGER", "", "preempter's pid", ""},
           {"preempter_process", "TEXT", "", "preempter's process name", ""},
           {"stack_id", "INTEGER", "id", "user stack when it blocked (not when preempted)", ""},
           {"py_stack_id", "INTEGER", "id", "Python stack when it blocked (python_frame)", ""},
           {"merged_stack_id", "INTEGER", "id",
            "native and Python stack merged (merged_stack_symbols); NULL until symbolized", ""},
           {"waker_context", "TEXT", "", kWakerContextName, ""},
       },
       "SELECT s.id, s.ts, s.dur, s.ts + s.dur AS end_ts, CASE s.state WHEN 0 THEN 'running' "
       "WHEN 1 THEN 'runnable' WHEN 2 THEN 'sleeping' WHEN 3 THEN 'uninterruptible' ELSE "
       "'other' END AS state, s.cpu, s.kernel_state, s.utid, t.tid, t.name AS thread_name, "
       "p.pid, p.name AS process_name, sn.name AS syscall, s.syscall_id, s.waker_utid, "
       "wt.tid AS waker_tid, wt.name AS waker_name, wp.pid AS waker_pid, wp.name AS "
       "waker_process, s.preempter_utid, pt.tid AS preempter_tid, pt.name AS preempter_name, "
       "pp.pid AS preempter_pid, pp.name AS preempter_process, s.stack_id, s.py_stack_id, "
       "(SELECT m.id FROM merged_stack m WHERE m.stack_id IS s.stack_id AND m.py_stack_id IS "
       "s.py_stack_id AND coalesce(s.stack_id, s.py_stack_id) IS NOT NULL) AS "
       "merged_stack_id, " WAKER_CONTEXT_CASE(
           "s") " AS waker_context "
                "FROM thread_state s LEFT JOIN thread t ON t.utid = s.utid "
                "LEFT JOIN process p ON p.upid = t.upid "
                "LEFT JOIN syscall_name sn ON sn.nr = s.syscall_nr "
                "LEFT JOIN thread wt ON wt.utid = s.waker_utid LEFT JOIN process wp ON wp.upid = "
                "wt.upid "
                "LEFT JOIN thread pt ON pt.utid = s.preempter_utid "
                "LEFT JOIN process pp ON pp.upid = pt.upid"});
  s.views.push_back(
      {"syscalls",
       "syscall with its name and thread/process names.",
       {
           {"id", "INTEGER", "id", "syscall.id", ""},
           {"ts", "INTEGER", "ns", "entry time, ns since the trace origin", ""},
           {"dur", "INTEGER", "ns", kDurMeaning, ""},
           {"end_ts", "INTEGER", "ns", kEndMeaning, ""},
           {"name", "TEXT", "", "syscall name (syscall_<nr> if unknown)", ""},
           {"nr", "INTEGER", "", "syscall number", ""},
           {"ret", "INTEGER", "", "return value", ""},
           {"fd", "INTEGER", "", "file descriptor argument", ""},
           {"bytes", "INTEGER", "bytes", "requested count", ""},
           {"addr", "INTEGER", "address", "address argument", ""},
           {"op", "INTEGER", "", "operation argument", ""},
           {"utid", "INTEGER", "id", "calling thread", ""},
           {"tid", "INTEGER", "", "its tid", ""},
           {"thread_name", "TEXT", "", "its name", ""},
           {"pid", "INTEGER", "", "its process's pid", ""},
           {"process_name", "TEXT", "", "its process's name", ""},
           {"stack_id", "INTEGER", "id",
            "always NULL (no stack is recorded at syscall entry; see syscall.stack_id)", ""},
       },
       "SELECT c.id, c.ts, c.dur, c.ts + c.dur AS end_ts, coalesce(sn.name, 'syscall_' || "
       "c.nr) AS name, c.nr, c.ret, c.fd, c.bytes, c.addr, c.op, c.utid, t.tid, t.name AS "
       "thread_name, p.pid, p.name AS process_name, c.stack_id "
       "FROM syscall c LEFT JOIN syscall_name sn ON sn.nr = c.nr "
       "LEFT JOIN thread t ON t.utid = c.utid LEFT JOIN process p ON p.upid = t.upid"});
  s.views.push_back(
      {"wakeups",
       "wakeup with wakee and waker names.",
       {
           {"id", "INTEGER", "id", "wakeup.id", ""},
           {"ts", "INTEGER", "ns", "time, ns since the trace origin", ""},
           {"wakee_utid", "INTEGER", "id", "thread woken", ""},
           {"wakee_tid", "INTEGER", "", "its tid", ""},
           {"wakee_name", "TEXT", "", "its name", ""},
           {"wakee_pid", "INTEGER", "", "its process's pid", ""},
           {"waker_utid", "INTEGER", "id", "waking thread (NULL = interrupt/idle)", ""},
           {"waker_tid", "INTEGER", "", "its tid", ""},
           {"waker_name", "TEXT", "", "its name", ""},
           {"waker_pid", "INTEGER", "", "its process's pid", ""},
           {"waker_process", "TEXT", "", "its process's name", ""},
           {"target_cpu", "INTEGER", "", "CPU the wakee was queued on", ""},
           {"waker_context", "TEXT", "", kWakerContextName, ""},
       },
       "SELECT w.id, w.ts, w.wakee_utid, et.tid AS wakee_tid, et.name AS wakee_name, ep.pid AS "
       "wakee_pid, w.waker_utid, rt.tid AS waker_tid, rt.name AS waker_name, rp.pid AS "
       "waker_pid, rp.name AS waker_process, w.target_cpu, " WAKER_CONTEXT_CASE(
           "w") " AS "
                "waker_context "
                "FROM wakeup w LEFT JOIN thread et ON et.utid = w.wakee_utid "
                "LEFT JOIN process ep ON ep.upid = et.upid LEFT JOIN thread rt ON rt.utid = "
                "w.waker_utid "
                "LEFT JOIN process rp ON rp.upid = rt.upid"});
  s.views.push_back(
      {"cpu_slices",
       "cpu_slice with the task's names: who held each CPU while traced threads waited for it.",
       {
           {"id", "INTEGER", "id", "cpu_slice.id", ""},
           {"ts", "INTEGER", "ns", "start, ns since the trace origin", ""},
           {"dur", "INTEGER", "ns", kDurMeaning, ""},
           {"end_ts", "INTEGER", "ns", kEndMeaning, ""},
           {"cpu", "INTEGER", "", "the CPU", ""},
           {"idle", "INTEGER", "bool", "1 when the CPU was idle", ""},
           {"utid", "INTEGER", "id", "the task on the CPU (NULL when idle)", ""},
           {"tid", "INTEGER", "", "its tid", ""},
           {"thread_name", "TEXT", "", "its name", ""},
           {"pid", "INTEGER", "", "its process's pid", ""},
           {"process_name", "TEXT", "", "its process's name", ""},
           {"traced", "INTEGER", "bool", "1 when the task was traced", ""},
       },
       "SELECT c.id, c.ts, c.dur, c.ts + c.dur AS end_ts, c.cpu, c.utid IS NULL AS idle, c.utid, "
       "t.tid, t.name AS thread_name, p.pid, p.name AS process_name, t.traced "
       "FROM cpu_slice c LEFT JOIN thread t ON t.utid = c.utid "
       "LEFT JOIN process p ON p.upid = t.upid"});
  s.views.push_back(
      {"block_ios",
       "block_io with device major/minor split and thread/process names.",
       {
           {"id", "INTEGER", "id", "block_io.id", ""},
           {"ts", "INTEGER", "ns", "queue insertion time, ns since the trace origin", ""},
           {"dur", "INTEGER", "ns", "until completion, ns", ""},
           {"end_ts", "INTEGER", "ns", kEndMeaning, ""},
           {"queue_dur", "INTEGER", "ns", "time queued, ns", ""},
           {"service_dur", "INTEGER", "ns", "device service time, ns", ""},
           {"op", "TEXT", "", "R, W, F, D or ?", ""},
           {"bytes", "INTEGER", "bytes", "request size", ""},
           {"dev_major", "INTEGER", "", "device major number", ""},
           {"dev_minor", "INTEGER", "", "device minor number", ""},
           {"sector", "INTEGER", "512-byte sectors", "first sector", ""},
           {"error", "INTEGER", "", "completion error (0 = ok)", ""},
           {"utid", "INTEGER", "id", "submitting thread", ""},
           {"tid", "INTEGER", "", "its tid", ""},
           {"thread_name", "TEXT", "", "its name", ""},
           {"pid", "INTEGER", "", "its process's pid", ""},
           {"process_name", "TEXT", "", "its process's name", ""},
       },
       "SELECT b.id, b.ts, b.dur, b.ts + b.dur AS end_ts, b.queue_dur, b.service_dur, b.op, "
       "b.bytes, b.dev >> 20 AS dev_major, b.dev & 1048575 AS dev_minor, b.sector, b.error, "
       "b.utid, t.tid, t.name AS thread_name, p.pid, p.name AS process_name "
       "FROM block_io b LEFT JOIN thread t ON t.utid = b.utid "
       "LEFT JOIN process p ON p.upid = t.upid"});
  s.views.push_back(
      {"process_events",
       "process_event with kind names, pids and process names.",
       {
           {"id", "INTEGER", "id", "process_event.id", ""},
           {"ts", "INTEGER", "ns", "time, ns since the trace origin", ""},
           {"kind", "TEXT", "", "fork, exec, exit or oom_kill", ""},
           {"upid", "INTEGER", "id", "process concerned", ""},
           {"pid", "INTEGER", "", "its pid", ""},
           {"process_name", "TEXT", "", "its name", ""},
           {"tid", "INTEGER", "", "thread concerned", ""},
           {"other_upid", "INTEGER", "id", "fork: child; oom_kill: victim", ""},
           {"other_pid", "INTEGER", "", "its pid", ""},
           {"other_name", "TEXT", "", "its name", ""},
           {"exit_code", "INTEGER", "", "exit: wait-status style code", ""},
           {"filename", "TEXT", "", "exec: the new image", ""},
       },
       "SELECT e.id, e.ts, CASE e.kind WHEN 0 THEN 'fork' WHEN 1 THEN 'exec' WHEN 2 THEN "
       "'exit' WHEN 3 THEN 'oom_kill' END AS kind, e.upid, p.pid, p.name AS process_name, "
       "t.tid, e.other_upid, o.pid AS other_pid, o.name AS other_name, e.exit_code, "
       "fs.str AS filename "
       "FROM process_event e LEFT JOIN process p ON p.upid = e.upid "
       "LEFT JOIN thread t ON t.utid = e.utid LEFT JOIN process o ON o.upid = e.other_upid "
       "LEFT JOIN string fs ON fs.id = e.filename_id"});
  s.views.push_back(
      {"threads",
       "thread with its process's pid and name.",
       {
           {"utid", "INTEGER", "id", "thread id unique within the trace", ""},
           {"tid", "INTEGER", "", "kernel thread id", ""},
           {"name", "TEXT", "", "thread name", ""},
           {"upid", "INTEGER", "id", "its process", ""},
           {"pid", "INTEGER", "", "its process's pid", ""},
           {"process_name", "TEXT", "", "its process's name", ""},
           {"start_ts", "INTEGER", "ns", "start, ns since the trace origin (NULL: unknown)", ""},
           {"end_ts", "INTEGER", "ns", "exit, ns since the trace origin (NULL: alive/unknown)", ""},
           {"traced", "INTEGER", "bool", "1 if traced", ""},
       },
       "SELECT t.utid, t.tid, t.name, t.upid, p.pid, p.name AS process_name, t.start_ts, "
       "t.end_ts, t.traced FROM thread t LEFT JOIN process p ON p.upid = t.upid"});
  s.views.push_back(
      {"cuda_function_stats",
       "Per CUDA function: call count, total/avg/max duration, bytes and errors.",
       {
           {"function", "TEXT", "", "API function name", ""},
           {"calls", "INTEGER", "", "number of calls", ""},
           {"total_dur", "INTEGER", "ns", "sum of durations", ""},
           {"avg_dur", "INTEGER", "ns", "mean duration", ""},
           {"max_dur", "INTEGER", "ns", "longest call", ""},
           {"bytes", "INTEGER", "bytes", "sum of bytes", ""},
           {"errors", "INTEGER", "", "calls with ret != 0", ""},
       },
       // Aggregate the raw table first (a plain scan: NOT INDEXED stops SQLite from walking the
       // (function_id, dur) index and fetching every row from it, measured 6x slower), then
       // join the 10-odd names.
       "SELECT fs.str AS function, a.calls, a.total_dur, a.avg_dur, a.max_dur, a.bytes, "
       "a.errors FROM (SELECT function_id, count(*) AS calls, sum(dur) AS total_dur, "
       "CAST(avg(dur) AS INTEGER) AS avg_dur, max(dur) AS max_dur, sum(bytes) AS bytes, "
       "sum(ret != 0) AS errors FROM cuda_call NOT INDEXED GROUP BY function_id) a "
       "JOIN string fs ON fs.id = a.function_id"});
  s.views.push_back(
      {"stack_frames",
       "stack_frame with hex addresses and the mapping each address falls in (for "
       "symbolization).",
       {
           {"stack_id", "INTEGER", "id", "the stack", ""},
           {"depth", "INTEGER", "", "0 = innermost", ""},
           {"pc", "INTEGER", "address", "address", ""},
           {"pc_hex", "TEXT", "", "address in hex", ""},
           {"upid", "INTEGER", "id", "process", ""},
           {"path", "TEXT", "", "mapped file containing pc, if known", ""},
           {"build_id", "TEXT", "hex", "its build id", ""},
           {"file_offset", "INTEGER", "bytes", "pc's offset in that file", ""},
       },
       "SELECT f.stack_id, f.depth, f.pc, printf('%#x', f.pc) AS pc_hex, s.upid, m.path, "
       "m.build_id, f.pc - m.start_addr + m.file_offset AS file_offset "
       "FROM stack_frame f JOIN stack s ON s.id = f.stack_id "
       "LEFT JOIN mapping m ON m.upid = s.upid AND f.pc >= m.start_addr AND f.pc < m.end_addr"});
  s.views.push_back(
      {"stack_symbols",
       "Symbolized stacks: one row per frame, innermost first (ORDER BY stack_id, depth, "
       "inline_depth); a captured address with inlined functions gives several rows. "
       "function/kind are NULL for a trace not yet symbolized. Native frames only: a native "
       "stack can pair with different Python stacks in different events, so stacks with "
       "Python frames merged in are in merged_stack_symbols.",
       {
           {"stack_id", "INTEGER", "id", "the stack (cuda_call.stack_id, ...)", ""},
           {"depth", "INTEGER", "", "0 = innermost captured address", ""},
           {"inline_depth", "INTEGER", "", "0 = innermost inlined frame at that address", ""},
           {"pc_hex", "TEXT", "", "captured address in hex", ""},
           {"function", "TEXT", "", "demangled function name", ""},
           {"file", "TEXT", "", "source file", ""},
           {"line", "INTEGER", "", "source line (for callers: the line of the call)", ""},
           {"module", "TEXT", "", "executable or shared library", ""},
           {"module_offset", "INTEGER", "bytes", "file offset in module", ""},
           {"inlined", "INTEGER", "bool", "1 if inlined into the next row's function", ""},
           {"kind", "TEXT", "enum", "see symbol.kind", ""},
       },
       "SELECT f.stack_id, f.depth, coalesce(fs.idx, 0) AS inline_depth, printf('%#x', f.pc) "
       "AS pc_hex, y.function, y.file, y.line, y.module, fs.module_offset, fs.inlined, y.kind "
       "FROM stack_frame f JOIN stack s ON s.id = f.stack_id "
       "LEFT JOIN frame_symbol fs ON fs.upid = s.upid AND fs.pc = f.pc - (f.depth > 0) "
       "LEFT JOIN symbol y ON y.id = fs.symbol_id"});
  s.views.push_back(
      {"merged_stack_symbols",
       "Stacks as `causeway stacks` and MCP get_stacks show them: native frames (inlined "
       "expanded) with Python frames merged in, one row per frame, innermost first (ORDER BY "
       "merged_stack_id, depth). Find an event's stack through cuda_calls.merged_stack_id or "
       "thread_states.merged_stack_id. Empty until the trace is symbolized.",
       {
           {"merged_stack_id", "INTEGER", "id", "merged_stack.id", ""},
           {"stack_id", "INTEGER", "id", "native stack (NULL: none)", ""},
           {"py_stack_id", "INTEGER", "id", "Python stack (NULL: none)", ""},
           {"depth", "INTEGER", "", "0 = innermost frame", ""},
           {"function", "TEXT", "", "function (C++ demangled; Python qualified name)", ""},
           {"file", "TEXT", "", "source file", ""},
           {"line", "INTEGER", "", "source line (for callers: the line of the call)", ""},
           {"module", "TEXT", "", "executable or shared library (native frames)", ""},
           {"module_offset", "INTEGER", "bytes", "file offset in module", ""},
           {"inlined", "INTEGER", "bool", "1 if inlined into the next row's function", ""},
           {"kind", "TEXT", "enum", "see symbol.kind (python, python_appended for Python frames)",
            ""},
           {"pc_hex", "TEXT", "", "captured address in hex (NULL for Python frames)", ""},
       },
       "SELECT m.id AS merged_stack_id, m.stack_id, m.py_stack_id, f.depth, y.function, "
       "y.file, y.line, y.module, f.module_offset, f.inlined, y.kind, CASE WHEN f.pc IS NOT "
       "NULL THEN printf('%#x', f.pc) END AS pc_hex "
       "FROM merged_frame f JOIN merged_stack m ON m.id = f.merged_stack_id "
       "JOIN symbol y ON y.id = f.symbol_id"});

  // ---- indexes --------------------------------------------------------------------------
  // Built when the writer closes (one sort each) rather than maintained per insert, which
  // would roughly halve ingest speed; see docs/performance.md.
  s.indexes = {
      {"cuda_call_by_thread", "cuda_call", "utid, ts", "a thread's calls in time order"},
      {"cuda_call_by_function", "cuda_call", "function_id, dur",
       "per-function latency, slowest calls of a function"},
      {"thread_state_by_thread", "thread_state", "utid, ts",
       "what a thread was doing during an interval"},
      {"syscall_by_thread", "syscall", "utid, ts", "a thread's syscalls in time order"},
      {"wakeup_by_wakee", "wakeup", "wakee_utid, ts", "who woke a thread"},
      {"cpu_slice_by_cpu", "cpu_slice", "cpu, ts", "who held a CPU during an interval"},
      {"block_io_by_thread", "block_io", "utid, ts", "a thread's I/O"},
      {"thread_by_tid", "thread", "tid", "tid -> utid"},
      {"process_by_pid", "process", "pid", "pid -> upid"},
      {"mapping_by_process", "mapping", "upid, start_addr", "address -> mapping"},
      {"merged_stack_by_stacks", "merged_stack", "stack_id, py_stack_id",
       "an event's merged stack (cuda_calls/thread_states.merged_stack_id)"},
  };

  // ---- meta keys ------------------------------------------------------------------------
  // Every key some code writes, and only those: the writer's at creation and close
  // (src/store/writer.cpp), the recorder's when tracing stops (Session::write_meta in
  // src/capture/session.cpp), then symbolization, analysis and `causeway finish`.
  s.meta_keys = {
      {"schema_version", "", "schema version of this file (also PRAGMA user_version)", "writer"},
      {"origin_monotonic_ns", "ns",
       "CLOCK_MONOTONIC time of ts 0 (the trace start); every ts is ns since it", "writer"},
      {"realtime_offset_ns", "ns",
       "CLOCK_REALTIME - CLOCK_MONOTONIC when the database was created (wall = monotonic + "
       "offset)",
       "writer"},
      {"origin_realtime_ns", "ns",
       "Unix wall-clock time of ts 0; the recorder rewrites it with its own reading at the "
       "trace start",
       "writer"},
      {"host", "", "host name (uname nodename)", "writer"},
      {"kernel_release", "", "kernel release (uname -r)", "writer"},
      {"complete", "bool",
       "1 once the writer closed the file cleanly; 0 while recording, after a crash, and after "
       "`causeway finish`",
       "writer"},
      {"indexed", "bool",
       "1 once the indexes were built (when the writer closes, or by `causeway finish`)", "writer"},
      {"end_ts", "ns",
       "latest event end seen, ns since the trace origin; written at close (absent if the "
       "recorder was killed)",
       "writer"},
      {"kernel", "", "uname sysname, release, version and machine", "recorder"},
      {"tool", "", "\"causeway\"", "recorder"},
      {"tool_version", "", "causeway version that recorded the trace", "recorder"},
      {"command_line", "", "causeway command line", "recorder"},
      {"target_mode", "enum", "command, pid or all (what was traced)", "recorder"},
      {"target_pid", "", "the traced pid (target_mode pid only)", "recorder"},
      {"realtime_minus_monotonic_ns", "ns",
       "CLOCK_REALTIME - CLOCK_MONOTONIC at the trace start (origin_realtime_ns - "
       "origin_monotonic_ns)",
       "recorder"},
      {"start_ts_ns", "ns", "0: the trace starts at its origin", "recorder"},
      {"end_ts_ns", "ns", "when tracing stopped, ns since the trace origin", "recorder"},
      {"duration_ns", "ns", "how long tracing ran (end_ts_ns - start_ts_ns)", "recorder"},
      {"stacks", "", "on or off: user stacks recorded", "recorder"},
      {"call_graph", "",
       "how native stacks were taken: fp (frame pointers), dwarf,BYTES (stack copies of BYTES "
       "unwound with DWARF CFI) or off",
       "recorder"},
      {"dwarf_unwinding", "JSON",
       "with --call-graph dwarf only: counts records, unwound, attached, unclaimed, malformed, "
       "with_holes, copies_failed, no_process, incomplete, module_refreshes (docs/stacks.md)",
       "recorder"},
      {"syscalls", "", "on or off: syscalls recorded", "recorder"},
      {"block_io", "", "on or off: block I/O recorded", "recorder"},
      {"buffer_mb", "MiB", "size of the queue behind the ring buffer (--buffer-mb)", "recorder"},
      {"python", "JSON",
       "per traced process that runs CPython (keyed by pid): binary, version (when known), and "
       "status "
       "(\"ok\" when Python stacks are recorded, else why not)",
       "recorder"},
      {"drops", "JSON",
       "events lost per source: cuda, sched, proc, syscall, blockio (ring buffer full), "
       "cuda_lost_entry (CUDA returns whose entry record was missing), stack_copy "
       "(--call-graph dwarf stack copies not made; the event keeps its frame-pointer stack)",
       "recorder"},
      {"drops_total", "events",
       "ring-buffer drops: the sum of drops without cuda_lost_entry and stack_copy", "recorder"},
      {"cuda_libraries", "JSON",
       "array, one per CUDA library probed: kind (runtime or driver), path, version (from the "
       "file name), build_id, probed_symbols (count)",
       "recorder"},
      {"skipped_symbols", "JSON",
       "per probed library path, the CUDA API functions it has no variant of (not probed)",
       "recorder"},
      {"event_counts", "JSON",
       "what the recorder decoded: events, cuda_calls, sched_switches, wakeups, syscalls, "
       "block_io, "
       "process_events, thread_states, migrations (runnable traced threads moved to another "
       "CPU's queue), cpu_slices (cpu_slice rows), cpu_seq_gaps (switches that followed missed "
       "ones on their CPU, so no cpu_slice covers the time before them), cpu_holder_breaks "
       "(switches "
       "numbered next on their CPU whose previous task is not the one the switch before put "
       "there: no cpu_slice for that stretch either), switches_missed (traced "
       "threads seen leaving a CPU without their switch onto it: the runnable interval before "
       "runs to that exit), switches_unreported (context switches the machine made while "
       "tracing, per /proc/stat ctxt, that the kernel's sched_switch tracepoint never reported: "
       "a lower bound, the usual cause of the three counts before; absent in traces recorded "
       "before 2026-12-08), malformed",
       "recorder"},
      {"cpu_quotas", "JSON",
       "array, one per cgroup with a CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us) over a "
       "traced process, nearest first: version, cgroup, quota_us, period_us, pids, and the "
       "throttling counters start/end {nr_periods, nr_throttled, throttled_ns} read when the "
       "first process was seen in it and when tracing stopped (end null if the cgroup was gone)",
       "recorder"},
      {"paused_for_probes_ns", "ns",
       "time traced processes were held stopped while the recorder probed a CUDA library they "
       "had just loaded (not counted against --duration)",
       "recorder"},
      {"recorder_pid", "",
       "pid of the causeway process that recorded the trace: its threads (which stop and resume "
       "traced processes while probes are attached) are never a culprit",
       "recorder"},
      {"notes", "JSON",
       "array of sentences on what could not be traced or went wrong (a missing kernel "
       "tracepoint, probes that failed to attach, no CUDA library found at start)",
       "recorder"},
      {"exit", "",
       "why tracing stopped: command exited, process exited, SIGINT, SIGTERM, duration "
       "elapsed, poll error or database error",
       "recorder"},
      {"symbolized", "bool",
       "1 once the stacks were symbolized into symbol / frame_symbol / merged_stack (at the "
       "end of `causeway trace`, or by `causeway finish` or `causeway stacks`)",
       "symbolizer"},
      {"analysis_version", "",
       "analysis version that wrote causal_chain / analysis_result; stale when it differs "
       "from the running causeway's",
       "analysis"},
      {"analysis_fingerprint", "",
       "what the trace held when the chains were computed (schema version, end_ts, last row "
       "id per event table); stale when the trace has grown since",
       "analysis"},
      {"finished_by", "",
       "set by `causeway finish` on a trace whose recorder was killed: the causeway version "
       "and time (UTC) that finished it",
       "finish"},
  };

  // ---- example queries ------------------------------------------------------------------
  s.examples = {
      {"Slowest CUDA calls",
       "SELECT id, function, dur, thread_name, pid, ts FROM cuda_calls WHERE id IN (SELECT id "
       "FROM cuda_call ORDER BY dur DESC LIMIT 10) ORDER BY dur DESC;"},
      {"Slowest calls of one function (uses the function_id + dur index)",
       "SELECT id, dur, thread_name, stream, ts FROM cuda_calls WHERE id IN (SELECT id FROM "
       "cuda_call WHERE function_id = (SELECT id FROM string WHERE str = "
       "'cudaStreamSynchronize') ORDER BY dur DESC LIMIT 10) ORDER BY dur DESC;"},
      {"Latency per CUDA function", "SELECT * FROM cuda_function_stats ORDER BY total_dur DESC;"},
      {"What thread utid 7 was doing during cuda_call 1882 (time per state)",
       "SELECT s.state, sum(min(s.ts + s.dur, c.ts + c.dur) - max(s.ts, c.ts)) AS ns FROM "
       "thread_state s JOIN cuda_call c ON c.id = 1882 AND s.utid = c.utid AND s.ts < c.ts + "
       "c.dur AND s.ts + s.dur > c.ts GROUP BY s.state;"},
      {"Who held the CPU while thread utid 7 waited for it (runnable), and for how long",
       "SELECT c.idle, c.thread_name, c.tid, c.pid, sum(min(c.end_ts, x.ts + x.dur) - "
       "max(c.ts, x.ts)) AS ns FROM thread_state x JOIN cpu_slices c ON c.cpu = x.cpu AND c.ts "
       "< x.ts + x.dur AND c.end_ts > x.ts AND c.utid IS NOT x.utid WHERE x.utid = 7 AND "
       "x.state = 1 GROUP BY c.utid ORDER BY ns DESC;"},
      {"Longest blocking syscalls and who woke the thread",
       "SELECT id, ts, dur, syscall, waker_name, waker_pid FROM thread_states WHERE state IN "
       "('sleeping', 'uninterruptible') ORDER BY dur DESC LIMIT 10;"},
      {"Time spent per syscall",
       "SELECT name, count(*), sum(dur) AS ns FROM syscalls GROUP BY name ORDER BY ns DESC;"},
      {"Frames of a stack",
       "SELECT depth, pc_hex, path, file_offset FROM stack_frames WHERE stack_id = 3 ORDER BY "
       "depth;"},
      {"A stack with function, file and line (innermost first)",
       "SELECT depth, function, file, line, module, kind FROM stack_symbols WHERE stack_id = 3 "
       "ORDER BY depth, inline_depth;"},
      {"Which source lines issued the most cudaStreamSynchronize time (depth 1 = the caller "
       "of the CUDA function)",
       "SELECT y.function, y.file, y.line, count(*) AS calls, sum(c.dur) AS ns FROM cuda_call c "
       "JOIN stack_symbols y ON y.stack_id = c.stack_id AND y.depth = 1 AND y.inline_depth = 0 "
       "WHERE c.function_id = (SELECT id FROM string WHERE str = 'cudaStreamSynchronize') "
       "GROUP BY 1, 2, 3 ORDER BY ns DESC LIMIT 10;"},
      {"A CUDA call's stack as `causeway stacks` shows it: native and Python frames merged",
       "SELECT depth, function, file, line, kind FROM merged_stack_symbols WHERE "
       "merged_stack_id = (SELECT merged_stack_id FROM cuda_calls WHERE id = 1882) ORDER BY "
       "depth;"},
      {"Python stack of a CUDA call (innermost first)",
       "SELECT f.depth, f.function, f.file, f.line FROM python_frame f JOIN cuda_call c ON "
       "c.py_stack_id = f.stack_id WHERE c.id = 1882 ORDER BY f.depth;"},
      {"Trace facts", "SELECT key, value FROM meta;"},
  };
  return s;
}

void append_column_ddl(std::ostringstream& out, const ColumnDef& c) {
  out << "  " << c.name << ' ' << c.type;
  if (!c.constraint.empty()) out << ' ' << c.constraint;
}

}  // namespace

const Schema& schema() {
  static const Schema kSchema = build_schema();
  return kSchema;
}

namespace {

void append_table_ddl(std::ostringstream& out, const TableDef& t, bool if_not_exists) {
  out << "CREATE TABLE " << (if_not_exists ? "IF NOT EXISTS " : "") << t.name << " (\n";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    append_column_ddl(out, t.columns[i]);
    if (i + 1 < t.columns.size() || !t.primary_key.empty()) out << ',';
    out << '\n';
  }
  if (!t.primary_key.empty()) out << "  PRIMARY KEY (" << t.primary_key << ")\n";
  out << ')' << t.table_suffix << ";\n";
}

}  // namespace

std::string table_ddl(std::string_view table) {
  std::ostringstream out;
  for (const TableDef& t : schema().tables) {
    if (t.name == table) append_table_ddl(out, t, true);
  }
  return out.str();
}

std::string schema_ddl() {
  std::ostringstream out;
  for (const TableDef& t : schema().tables) append_table_ddl(out, t, false);
  for (const ViewDef& v : schema().views) {
    out << "CREATE VIEW " << v.name << " AS " << v.select_sql << ";\n";
  }
  return out.str();
}

std::string schema_index_ddl() {
  std::ostringstream out;
  for (const IndexDef& i : schema().indexes) {
    out << "CREATE INDEX IF NOT EXISTS " << i.name << " ON " << i.table << " (" << i.columns
        << ");\n";
  }
  return out.str();
}

namespace {

// Markdown table cells must not contain '|'.
std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

void markdown_columns(std::ostringstream& out, const std::vector<ColumnDef>& cols) {
  out << "| column | type | unit | meaning |\n|---|---|---|---|\n";
  for (const ColumnDef& c : cols) {
    out << "| `" << c.name << "` | " << c.type;
    if (c.constraint.find("PRIMARY KEY") != std::string_view::npos) out << " (key)";
    out << " | " << cell(c.unit) << " | " << cell(c.meaning) << " |\n";
  }
}

}  // namespace

std::string schema_markdown() {
  const Schema& s = schema();
  std::ostringstream out;
  out << "# Trace database schema\n\n"
      << "<!-- Generated from src/store/schema.cpp by `make docs` (or "
         "CAUSEWAY_UPDATE_DOCS=1 build-dir/store_schema_test); do not edit by hand. -->\n\n"
      << "A causeway trace is one SQLite file (schema version " << s.version
      << ", `PRAGMA application_id` = " << kApplicationId
      << ", i.e. 0x43415553, \"CAUS\"). Open it with any SQLite client, e.g. `sqlite3 -readonly "
         "run.db`.\n\n"
      << "## Conventions\n\n";
  for (std::string_view c : s.conventions) out << "- " << c << "\n";
  out << "\n## Tables\n\n";
  for (const TableDef& t : s.tables) {
    out << "### `" << t.name << "`\n\n" << t.meaning << "\n\n";
    if (!t.primary_key.empty()) out << "Primary key: (" << t.primary_key << ").\n\n";
    markdown_columns(out, t.columns);
    out << "\n";
  }
  out << "## Views\n\nViews join names in and decode enums and packed fields; start here.\n\n";
  for (const ViewDef& v : s.views) {
    out << "### `" << v.name << "`\n\n" << v.meaning << "\n\n";
    markdown_columns(out, v.columns);
    out << "\n";
  }
  out << "## Indexes\n\nBuilt when recording ends (meta `indexed` = 1). A trace whose recorder "
         "was killed has all committed rows but no indexes until it is finished "
         "(`causeway finish --db FILE`).\n\n"
      << "| index | on | for |\n|---|---|---|\n";
  for (const IndexDef& i : s.indexes) {
    out << "| `" << i.name << "` | `" << i.table << "(" << i.columns << ")` | " << cell(i.why)
        << " |\n";
  }
  out << "\n## Meta keys\n\n| key | unit | meaning | written by |\n|---|---|---|---|\n";
  for (const MetaKeyDef& m : s.meta_keys) {
    out << "| `" << m.key << "` | " << m.unit << " | " << cell(m.meaning) << " | " << m.written_by
        << " |\n";
  }
  out << "\n## Example queries\n\n";
  for (const ExampleQuery& e : s.examples) {
    out << "**" << e.question << "**\n\n```sql\n" << e.sql << "\n```\n\n";
  }
  std::string text = out.str();
  text.pop_back();  // exactly one trailing newline
  return text;
}

std::string schema_text() {
  const Schema& s = schema();
  std::ostringstream out;
  out << "causeway trace database (SQLite, schema " << s.version << "). Read-only.\n"
      << "Conventions:\n";
  for (std::string_view c : s.conventions) out << "- " << c << "\n";
  auto columns = [&out](const std::vector<ColumnDef>& cols) {
    for (const ColumnDef& c : cols) {
      out << "  " << c.name << ' ' << c.type;
      if (!c.unit.empty()) out << " [" << c.unit << ']';
      out << ": " << c.meaning << "\n";
    }
  };
  out << "\nVIEWS (start here):\n";
  for (const ViewDef& v : s.views) {
    out << v.name << " -- " << v.meaning << "\n";
    columns(v.columns);
  }
  out << "\nTABLES:\n";
  for (const TableDef& t : s.tables) {
    out << t.name << " -- " << t.meaning << "\n";
    columns(t.columns);
  }
  out << "\nINDEXES (present once recording finished; use them for fast filters):\n";
  for (const IndexDef& i : s.indexes) out << "  " << i.table << "(" << i.columns << ")\n";
  out << "\nMETA KEYS (SELECT value FROM meta WHERE key = ...):\n";
  for (const MetaKeyDef& m : s.meta_keys) {
    out << "  " << m.key;
    if (!m.unit.empty()) out << " [" << m.unit << ']';
    out << ": " << m.meaning << "\n";
  }
  out << "\nEXAMPLES:\n";
  for (const ExampleQuery& e : s.examples) out << "-- " << e.question << "\n" << e.sql << "\n";
  return out.str();
}

int64_t pack_dim3(const uint32_t dims[3]) {
  const uint64_t x = dims[0] & 0x7fffffffu;
  const uint64_t y = (dims[1] - 1u) & 0xffffu;  // (y-1) mod 2^16: y = 1 packs to 0
  const uint64_t z = (dims[2] - 1u) & 0xffffu;
  return static_cast<int64_t>(x | (y << 31) | (z << 47));
}

void unpack_dim3(int64_t packed, uint32_t dims[3]) {
  const uint64_t v = static_cast<uint64_t>(packed);
  dims[0] = static_cast<uint32_t>(v & 0x7fffffffu);
  dims[1] = static_cast<uint32_t>(((v >> 31) + 1) & 0xffffu);
  dims[2] = static_cast<uint32_t>(((v >> 47) + 1) & 0xffffu);
}

}  // namespace causeway::store

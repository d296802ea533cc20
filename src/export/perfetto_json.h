// Timeline export: a trace database as Chrome trace-event JSON, the format ui.perfetto.dev
// and chrome://tracing open. docs/export.md describes the tracks and how to open the file.
//
// Layout (pid = the kernel pid, tid = the kernel tid; "pseudo" tracks are extra thread
// tracks inside the process, named after the thread they describe):
//   - thread track          CUDA calls as complete slices (ph X) with their arguments and
//                           stack (stack_line.h)
//   - "<thread> [state]"    scheduling states: running, runnable (who held the CPU
//                           meanwhile, with their time, idle and unknown time, from
//                           cpu_slice: store/cpu_holders.h), sleeping / uninterruptible (in
//                           which syscall, woken by whom, with the stack taken when the
//                           thread went off CPU)
//   - "<thread> [syscalls]" system calls (no stack: capture records none at syscall entry)
//   - "block I/O <maj:min>" per process and device, the requests submitted for it
//   - "<thread> [chains]"   each stored causal chain as a region with its summary
//   - flows (ph s/f, id = wakeup.id) from the waker's state track to the wakee's
//   - "CPU <n>"             in a "CPUs" pseudo process, who held each CPU (cpu_slice rows:
//                           recorded only while a traced thread ran or waited there)
// Slices on one track are kept properly nested: a slice that would partially overlap
// another on its track (concurrent block I/O, inconsistent data) goes to an extra lane track
// ("... lane 2") instead, so viewers never mis-nest.
//
// Memory: statements are stepped row by row and JSON is streamed through a fixed buffer;
// besides SQLite's page cache, memory is bounded by the number of tracks (names already
// emitted, per-track nesting stacks), never by the number of events.
//
// Thread-safety: reentrant; uses only the connection and FILE it is given.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

struct sqlite3;

namespace causeway::timeline {

struct ExportOptions {
  // Window, ns since the trace origin. An event is exported when it overlaps
  // [since_ns, until_ns): ts < until_ns and ts + dur >= since_ns. Events are not clipped.
  std::optional<int64_t> since_ns;
  std::optional<int64_t> until_ns;
  // Only threads of processes with these kernel pids (empty = all). Flows are exported when
  // both waker and wakee are selected.
  std::vector<int32_t> pids;
  // Recorded in the output's otherData (e.g. the database path); informational.
  std::string source;
};

struct ExportSummary {
  int64_t cuda_calls = 0;
  int64_t thread_states = 0;
  int64_t syscalls = 0;
  int64_t block_ios = 0;
  int64_t flows = 0;       // wakeup flows (each an s/f pair)
  int64_t chains = 0;      // causal-chain regions
  int64_t cpu_slices = 0;  // who held a CPU (per-CPU tracks)
  int64_t tracks = 0;      // thread and pseudo-thread tracks named
  int64_t bytes = 0;       // JSON bytes written
  int64_t events() const {
    return cuda_calls + thread_states + syscalls + block_ios + flows + chains + cpu_slices;
  }
};

// Writes the whole JSON document to `out` (not closed; flushed). `db` is a read connection
// to a causeway trace (store::Reader). Fails with one sentence on a query or write error;
// the output is then incomplete and should be discarded.
Result<ExportSummary> write_perfetto_json(sqlite3* db, const ExportOptions& options,
                                          std::FILE* out);

// Track id of a pseudo track: `base` (a tid, or a device slot for block I/O) in one of the
// kinds below, lane 0 = the first. Kernel tids are < 2^22, so these never collide with a
// real tid and fit the int32 the trace-event format expects. Exposed for tests.
enum class TrackKind : int {
  kCuda = 0,
  kState = 1,
  kSyscall = 2,
  kBlockIo = 3,
  kChain = 4,
  kCpu = 5,  // base = the CPU number
};
inline constexpr int kMaxLanes = 64;
inline int64_t track_tid(int64_t base, TrackKind kind, int lane) {
  return base + ((static_cast<int64_t>(kind) * kMaxLanes + lane) << 22);
}

}  // namespace causeway::timeline

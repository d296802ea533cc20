// The Python GIL: which futex waits of a CPython process's threads were waits for the global
// interpreter lock, and which thread held it meanwhile.
//
// CPython does not tell the kernel about its GIL, so it is recognised from its behaviour, which
// every CPython with a GIL (3.2 onwards) shares: a thread that wants the GIL waits on a
// condition variable with a timeout of the switch interval (sys.getswitchinterval(), 5 ms by
// default); when the wait times out it asks the holder to drop the GIL and waits again, and the
// holder signals the condition variable when it lets go. So the GIL's futex words are those of a
// Python process on which
//   - several of the process's threads wait on it or next to it (its mutex, its switch
//     condition),
//   - waits time out again and again after about the same time (the switch interval), and
//   - the other waits are ended by a thread of the same process (the holder letting go).
// Words within a few bytes of those (the GIL's mutex and its switch condition, which live in
// the same structure) are GIL waits too.
//
// The holder of a wait is the thread whose signal ended it; timed-out waits before it (the same
// thread asking again and again) get the same holder. Where no signal ends a run of waits, the
// holder is the thread of the process that takes the GIL itself (among the 64 with most GIL
// waits) and ran longest on a CPU during the wait (only one thread runs Python at a time), else
// unknown. Work is bounded: neighbouring words by address order, holders per wait by that cap.
//
// Units: ns. Thread-safety: none.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "analyze/trace_data.h"
#include "common/result.h"

struct sqlite3;

namespace causeway::analyze {

// One blocked futex wait of a thread of a Python process.
struct FutexWait {
  size_t state = 0;      // index into TraceData::states (a blocked state)
  int64_t addr = 0;      // futex word
  int64_t ret = 0;       // the syscall's return value; -110 (ETIMEDOUT) when it timed out
  int64_t py_stack = 0;  // thread_state.py_stack_id, 0 none
};

struct GilFindings {
  std::set<int64_t> addresses;     // the GIL's futex words found (all processes)
  int64_t switch_interval_ns = 0;  // median timed-out wait, of the process with most timeouts
};

// Marks GIL waits among `waits` (of threads of the processes `python_pids`): fills
// TraceData::gil_holder for each, and returns what was found. Pure: reads `d`'s threads and
// states only.
GilFindings find_gil_waits(TraceData& d, const std::vector<FutexWait>& waits,
                           const std::set<int32_t>& python_pids);

// Reads the futex waits of Python processes' threads (meta `python`, else processes named
// python*) from the trace, runs find_gil_waits, and fills TraceData::gil_holder_line from the
// holders' Python stacks when the trace has them. Does nothing for traces without Python.
Status load_gil_waits(sqlite3* db, TraceData& d);

}  // namespace causeway::analyze

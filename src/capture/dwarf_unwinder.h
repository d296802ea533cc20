// DWARF-CFI unwinding of copied user stacks (`causeway trace --call-graph dwarf`), the way
// `perf --call-graph dwarf` does it: BPF copies the registers and a bounded slice of the user
// stack at the event (bpf/ustack.bpf.c, record CW_EV_USER_STACK); here elfutils libdwfl
// unwinds that copy with the .eh_frame call-frame information of the process's binaries, so
// code built without frame pointers (Debian's glibc, libffi, python3, -O2 programs) gives
// complete stacks.
//
// The result is the same list of addresses the frame-pointer walk gives: frame 0 is the
// sampled pc (the probed function's entry for a CUDA call), then one return address per
// caller, innermost first. The store, the symbolizer and everything after them are unchanged.
//
// DwarfUnwinder keeps one Dwfl per traced process, built from that process's file mappings
// (given by capture at first sight and after every library load, or read from /proc/PID/maps
// on first use) and re-reported when they change; the ELF files and their CFI are read once
// per process and kept until forget(). Unwinding reads only the copied slice, never the live
// process, so it works as well after the process exited (as long as the Dwfl was built).
//
// DwarfStacks is the decoder's stage in front of it: it unwinds each CW_EV_USER_STACK record
// as it arrives and keeps the frames until the event the record belongs to (a CUDA call at its
// return, a blocking switch right after) claims them by (tid, timestamp).
//
// Thread-safety: none; the decoder's thread uses both.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "capture/libraries.h"
#include "causeway/abi/events.h"
#include "common/result.h"

namespace causeway::capture {

// The registers and stack copy of one sample. regs[] is indexed by enum cw_ustack_reg;
// stack holds the user memory [regs[CW_UREG_SP], regs[CW_UREG_SP] + stack.size()) (not owned;
// must outlive the unwind() call). holes: pages of it BPF could not read (cw_user_stack.holes:
// bit i = the i-th CW_PAGE_BYTES page counted from the one regs[CW_UREG_SP] is in); the
// unwinder treats them as unreadable, not as zeros.
struct StackSample {
  std::array<uint64_t, CW_UREG_COUNT> regs{};
  std::span<const uint8_t> stack;
  uint32_t holes = 0;
};

struct DwarfUnwinderCounts {
  int64_t unwinds = 0;     // unwind() calls
  int64_t no_process = 0;  // the process's mappings could not be had: nothing unwound
  int64_t refreshes = 0;   // module lists (re)reported, from capture or /proc
  int64_t frames = 0;      // frames produced in total
  int64_t incomplete = 0;  // stopped before a stack end: slice too short, no CFI for a pc,
                           // an address in no known module (e.g. JIT code)
};

class DwarfUnwinder {
 public:
  DwarfUnwinder();
  ~DwarfUnwinder();
  DwarfUnwinder(const DwarfUnwinder&) = delete;
  DwarfUnwinder& operator=(const DwarfUnwinder&) = delete;

  // The file mappings of `pid` now (from read_maps()). Cheap when unchanged; otherwise the
  // module list is re-reported (modules still mapped at the same place keep their CFI).
  void note_maps(int32_t pid, const std::vector<Mapping>& maps);

  // Unwinds `sample` of thread `tid` of process `pid`: up to `max_frames` addresses, innermost
  // first, frame 0 = the sampled pc. Empty when nothing is known of the process (it never
  // was given mappings and /proc/PID/maps is gone). A process not given mappings yet, or
  // whose pc lies in no known module (a library loaded since), has its /proc/PID/maps read,
  // at most once per 100 ms.
  std::vector<uint64_t> unwind(int32_t pid, int32_t tid, const StackSample& sample,
                               size_t max_frames = CW_MAX_STACK);

  // The process exited or exec'd: drop its Dwfl (and the files it holds open).
  void forget(int32_t pid);

  const DwarfUnwinderCounts& counts() const { return counts_; }

 private:
  struct Process;
  Process* refresh(int32_t pid, const std::vector<Mapping>& maps);
  Process* refresh_from_proc(int32_t pid, int64_t now_ns);

  std::unordered_map<int32_t, std::unique_ptr<Process>> processes_;
  DwarfUnwinderCounts counts_;
};

struct DwarfStackCounts {
  int64_t records = 0;     // CW_EV_USER_STACK records ingested
  int64_t malformed = 0;   // too short / inconsistent
  int64_t unwound = 0;     // records that gave at least caller frame (2 frames or more)
  int64_t attached = 0;    // claimed by their event
  int64_t unclaimed = 0;   // dropped: their event never came (lost probe return, overflow)
  int64_t with_holes = 0;  // copies with pages BPF could not read (never-written stack)
};

class DwarfStacks {
 public:
  explicit DwarfStacks(DwarfUnwinder& unwinder) : unwinder_(unwinder) {}

  // One CW_EV_USER_STACK record: unwound now, kept until take(). Malformed records are
  // counted and skipped.
  Status ingest(std::span<const uint8_t> record);
  // The frames unwound for the event of thread `tid` at `ts_ns`, once; false when none.
  bool take(int32_t tid, int64_t ts_ns, std::vector<uint64_t>* frames);
  // A process exited or exec'd: forget its pending frames' process state (see
  // DwarfUnwinder::forget).
  void forget_process(int32_t pid) { unwinder_.forget(pid); }

  const DwarfStackCounts& counts() const { return counts_; }
  DwarfUnwinder& unwinder() { return unwinder_; }

 private:
  struct Pending {
    int64_t ts_ns;
    std::vector<uint64_t> frames;
  };
  DwarfUnwinder& unwinder_;
  DwarfStackCounts counts_;
  // A few per thread: nested CUDA calls (runtime -> driver) are pending at once.
  std::unordered_map<int32_t, std::vector<Pending>> pending_;
};

// Which stack to keep for an event that has both: the DWARF-unwound one, unless it is shorter
// than the frame-pointer walk and agrees with it on every frame it has (CFI unwinding ran out
// of copied stack where the frame-pointer chain went on: the walk is the longer true stack).
// With fewer than 2 DWARF frames (nothing unwound) the walk is kept.
std::span<const uint64_t> choose_stack(std::span<const uint64_t> fp,
                                       std::span<const uint64_t> dwarf);

}  // namespace causeway::capture

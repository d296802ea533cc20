#include "analyze/decompose.h"
#include "common/terminal_text.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace causeway::analyze {
namespace {

bool is_io_syscall(const std::string& n) {
  return n == "fsync" || n == "fdatasync" || n == "sync_file_range" || n == "sync" ||
         n == "syncfs" || n == "io_getevents" || n == "io_pgetevents" || n == "io_uring_enter";
}

// The block I/O of `thread` overlapping [s, e) the most, or nullptr.
const BlockIo* overlapping_io(const TraceData& d, int32_t thread, int64_t s, int64_t e) {
  if (thread < 0 || static_cast<size_t>(thread) >= d.thread_ios.size()) return nullptr;
  const Range r = d.thread_ios[static_cast<size_t>(thread)];
  const BlockIo* best = nullptr;
  int64_t best_ns = 0;
  // Requests of one thread may overlap each other, so scan from the first one that starts
  // before `e`, backwards while they could still reach `s` (bounded: I/O lists are short).
  auto it = std::lower_bound(d.block_ios.begin() + static_cast<std::ptrdiff_t>(r.begin),
                             d.block_ios.begin() + static_cast<std::ptrdiff_t>(r.end), e,
                             [](const BlockIo& b, int64_t t) { return b.ts < t; });
  int scanned = 0;
  while (it != d.block_ios.begin() + static_cast<std::ptrdiff_t>(r.begin) && scanned < 256) {
    --it;
    ++scanned;
    const int64_t ov = std::min(e, it->end()) - std::max(s, it->ts);
    if (ov > best_ns) {
      best_ns = ov;
      best = &*it;
    }
  }
  return best;
}

void add_preempt(Decomposition& acc, const StateRow& r, int32_t holder, int64_t ns, int64_t ts,
                 int64_t slice_id, int64_t slice_ts, bool from_slices) {
  for (PreemptShare& p : acc.preempters) {
    if (p.thread == holder && p.cpu == r.cpu) {
      p.ns += ns;
      p.from_slices = p.from_slices || from_slices;
      ++p.intervals;
      if (ns > p.largest_ns) {
        p.largest_ns = ns;
        p.largest_state_id = r.id;
        p.largest_ts = ts;
        p.largest_slice_id = slice_id;
        p.largest_slice_ts = slice_ts;
      }
      return;
    }
  }
  acc.preempters.push_back({holder, r.cpu, ns, 1, r.id, ns, ts, slice_id, slice_ts, from_slices});
}

// Splits the runnable part [s, e) of `r` by who held the CPU it was queued on, from that
// CPU's slices. Per holder, the pieces of one interval are summed (one interval counted).
void add_runnable(const TraceData& d, int32_t thread, const StateRow& r, int64_t s, int64_t e,
                  Decomposition& acc) {
  struct Piece {
    int32_t holder;
    int64_t ns;
    int64_t slice_id;  // the holder's largest slice in this interval
    int64_t slice_ns;
    int64_t slice_ts;
  };
  std::vector<Piece> pieces;
  int64_t covered = 0;
  if (r.cpu >= 0 && static_cast<size_t>(r.cpu) < d.cpu_slices.size()) {
    const size_t stop = d.cpu_slices[static_cast<size_t>(r.cpu)].end;
    for (size_t i = d.first_slice_after(r.cpu, s); i < stop; ++i) {
      const CpuSlice& sl = d.slices[i];
      if (sl.ts >= e) break;
      const int64_t ov = std::min(e, sl.end()) - std::max(s, sl.ts);
      if (ov <= 0) continue;
      covered += ov;
      // The thread cannot hold the CPU it waits for: such an overlap is a clock skew between
      // the two records, so its time stays unknown rather than blaming the thread itself.
      const int32_t holder = sl.holder < 0 ? kIdleHolder : sl.holder == thread ? -1 : sl.holder;
      auto it = std::find_if(pieces.begin(), pieces.end(),
                             [&](const Piece& p) { return p.holder == holder; });
      if (it == pieces.end()) {
        pieces.push_back({holder, ov, holder >= 0 ? sl.id : 0, ov, sl.ts});
      } else {
        it->ns += ov;
        if (holder >= 0 && ov > it->slice_ns) {
          it->slice_id = sl.id;
          it->slice_ns = ov;
          it->slice_ts = sl.ts;
        }
      }
    }
  }
  const int64_t rest = (e - s) - covered;
  if (covered == 0) {
    // Nothing recorded on that CPU then (an older trace, or the recorder missed a switch):
    // the task that switched in when the thread left the CPU is all that is known.
    const int32_t p = r.preempter >= 0 && r.preempter != thread ? r.preempter : -1;
    add_preempt(acc, r, p, e - s, s, 0, 0, false);
    return;
  }
  if (rest > 0) pieces.push_back({-1, rest, 0, 0, 0});
  for (const Piece& p : pieces) {
    add_preempt(acc, r, p.holder, p.ns, s, p.slice_id, p.slice_ts, true);
  }
}

void add_block(Decomposition& acc, BlockCause cause, std::string reason, const StateRow& r,
               int32_t waker, WakeKind wake, const BlockIo* io, int64_t ns, int64_t s, int64_t e) {
  const uint32_t dev = io ? io->dev : 0;
  const int64_t io_id = io ? io->id : 0;
  const int64_t io_ts = io ? io->ts : 0;
  for (BlockShare& b : acc.blocked) {
    if (b.cause == cause && b.waker == waker && b.wake == wake && b.dev == dev &&
        b.reason == reason) {
      b.ns += ns;
      ++b.intervals;
      if (ns > b.largest_ns) {
        b.largest_ns = ns;
        b.largest_state_id = r.id;
        b.largest_ts = s;
        b.largest_end = e;
        b.largest_syscall_id = r.syscall_id;
        b.largest_io_id = io_id;
        b.largest_io_ts = io_ts;
      }
      return;
    }
  }
  BlockShare b;
  b.cause = cause;
  b.reason = std::move(reason);
  b.waker = waker;
  b.wake = wake;
  b.dev = dev;
  b.ns = ns;
  b.intervals = 1;
  b.largest_state_id = r.id;
  b.largest_ns = ns;
  b.largest_ts = s;
  b.largest_end = e;
  b.largest_syscall_id = r.syscall_id;
  b.largest_io_id = io_id;
  b.largest_io_ts = io_ts;
  acc.blocked.push_back(std::move(b));
}

std::string pct(int64_t part, int64_t whole) {
  if (whole <= 0) return "0%";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

}  // namespace

const char* block_cause_word(BlockCause c) {
  switch (c) {
    case BlockCause::kGpu:
      return "gpu";
    case BlockCause::kIo:
      return "io";
    case BlockCause::kLock:
      return "lock";
    case BlockCause::kGil:
      return "gil";
    case BlockCause::kSleep:
      return "sleep";
    case BlockCause::kWait:
      return "wait";
    case BlockCause::kRecorder:
      return "recorder";
  }
  return "wait";
}

std::string format_duration(int64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (ns < 0) {
    // Appended rather than `"-" + format_duration(...)`: g++ 12 -O3 reports a false
    // -Wrestrict on operator+(const char*, std::string&&) (GCC bug 105329).
    std::string out = "-";
    out += format_duration(ns == INT64_MIN ? INT64_MAX : -ns);  // -INT64_MIN overflows
    return out;
  }
  if (ns < 1'000) {
    std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.0f us", v / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, v < 1e7 ? "%.2f ms" : "%.1f ms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", v / 1e9);
  }
  return buf;
}

int64_t Decomposition::blocked_by(BlockCause c) const {
  int64_t ns = 0;
  for (const BlockShare& b : blocked) {
    if (b.cause == c) ns += b.ns;
  }
  return ns;
}

int64_t Decomposition::runnable_idle_ns() const {
  int64_t ns = 0;
  for (const PreemptShare& p : preempters) {
    if (p.thread == kIdleHolder) ns += p.ns;
  }
  return ns;
}

int64_t Decomposition::runnable_unknown_ns() const {
  int64_t ns = 0;
  for (const PreemptShare& p : preempters) {
    if (p.thread == -1) ns += p.ns;
  }
  return ns;
}

int32_t top_cpu_holder(const TraceData& data, const Decomposition& d, int64_t* ns) {
  // Summed over CPUs: a task that held two of the thread's CPUs is one culprit.
  std::map<int32_t, int64_t> by_thread;
  for (const PreemptShare& p : d.preempters) {
    if (p.thread < 0 || data.is_recorder(p.thread)) continue;
    by_thread[p.thread] += p.ns;
  }
  int32_t best = -1;
  int64_t best_ns = 0;
  for (const auto& [t, n] : by_thread) {
    if (n > best_ns) {
      best = t;
      best_ns = n;
    }
  }
  if (ns) *ns = best_ns;
  return best;
}

int32_t runnable_culprit(const TraceData& data, const Decomposition& d) {
  int64_t ns = 0;
  const int32_t t = top_cpu_holder(data, d, &ns);
  return t >= 0 && ns > d.runnable_idle_ns() ? t : -1;
}

void Decomposition::sort_shares() {
  std::sort(preempters.begin(), preempters.end(), [](const PreemptShare& a, const PreemptShare& b) {
    return std::tie(b.ns, a.thread, a.cpu) < std::tie(a.ns, b.thread, b.cpu);
  });
  std::sort(blocked.begin(), blocked.end(), [](const BlockShare& a, const BlockShare& b) {
    if (a.ns != b.ns) return a.ns > b.ns;
    if (a.waker != b.waker) return a.waker < b.waker;
    if (a.reason != b.reason) return a.reason < b.reason;
    return a.dev < b.dev;
  });
  std::sort(cpus.begin(), cpus.end());
}

void Decomposition::merge(const Decomposition& o) {
  total_ns += o.total_ns;
  on_cpu_ns += o.on_cpu_ns;
  runnable_ns += o.runnable_ns;
  blocked_ns += o.blocked_ns;
  gpu_wait_ns += o.gpu_wait_ns;
  unaccounted_ns += o.unaccounted_ns;
  runnable_intervals += o.runnable_intervals;
  for (const PreemptShare& p : o.preempters) {
    auto it = std::find_if(preempters.begin(), preempters.end(), [&](const PreemptShare& q) {
      return q.thread == p.thread && q.cpu == p.cpu;
    });
    if (it == preempters.end()) {
      preempters.push_back(p);
      continue;
    }
    it->ns += p.ns;
    it->intervals += p.intervals;
    it->from_slices = it->from_slices || p.from_slices;
    if (p.largest_ns > it->largest_ns) {
      it->largest_ns = p.largest_ns;
      it->largest_state_id = p.largest_state_id;
      it->largest_ts = p.largest_ts;
      it->largest_slice_id = p.largest_slice_id;
      it->largest_slice_ts = p.largest_slice_ts;
    }
  }
  for (const BlockShare& b : o.blocked) {
    auto it = std::find_if(blocked.begin(), blocked.end(), [&](const BlockShare& q) {
      return q.cause == b.cause && q.waker == b.waker && q.wake == b.wake && q.dev == b.dev &&
             q.reason == b.reason;
    });
    if (it == blocked.end()) {
      blocked.push_back(b);
      continue;
    }
    const int64_t ns = it->ns + b.ns;
    const int64_t n = it->intervals + b.intervals;
    if (b.largest_ns > it->largest_ns) *it = b;
    it->ns = ns;
    it->intervals = n;
  }
  for (int32_t c : o.cpus) {
    if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
  }
}

IntervalTotals decompose_into(TraceData& d, int32_t thread, int64_t start, int64_t end,
                              bool in_cuda_call, Decomposition& acc, size_t* cursor) {
  IntervalTotals t;
  if (end <= start) return t;
  acc.total_ns += end - start;
  int64_t covered = 0;
  const size_t stop = thread >= 0 && static_cast<size_t>(thread) < d.thread_states.size()
                          ? d.thread_states[static_cast<size_t>(thread)].end
                          : 0;
  const size_t begin = stop > 0 ? d.thread_states[static_cast<size_t>(thread)].begin : 0;
  size_t first;
  if (cursor && *cursor >= begin && *cursor <= stop &&
      (*cursor == begin || d.states[*cursor - 1].end() <= start)) {
    first = *cursor;  // valid hint: every earlier state of the thread ends before `start`
    while (first < stop && d.states[first].end() <= start) ++first;
  } else {
    first = d.first_state_after(thread, start);
  }
  if (cursor) *cursor = first;
  for (size_t i = first; i < stop; ++i) {
    const StateRow& r = d.states[i];
    if (r.ts >= end) break;
    const int64_t s = std::max(start, r.ts);
    const int64_t e = std::min(end, r.end());
    const int64_t ns = e - s;
    if (ns <= 0) continue;
    covered += ns;
    switch (r.state) {
      case kRunning:
        acc.on_cpu_ns += ns;
        t.on_cpu_ns += ns;
        if (r.cpu >= 0 && std::find(acc.cpus.begin(), acc.cpus.end(), r.cpu) == acc.cpus.end()) {
          acc.cpus.push_back(r.cpu);
        }
        break;
      case kRunnable:
        acc.runnable_ns += ns;
        ++acc.runnable_intervals;
        t.runnable_ns += ns;
        add_runnable(d, thread, r, s, e, acc);
        break;
      default: {  // sleeping, uninterruptible, other: blocked
        std::string reason;
        if (r.syscall_nr >= 0) {
          reason = d.syscall_name(r.syscall_nr);
        } else if (auto sc = d.syscall(r.syscall_id)) {
          reason = sc->name;
        } else {
          reason = r.state == kUninterruptible ? "uninterruptible"
                   : r.state == kSleeping      ? "sleeping"
                                               : "other";
        }
        const BlockIo* io = overlapping_io(d, thread, s, e);
        // How the interval ended decides whether anyone is to be named for it.
        const int8_t wc = r.waker_context;
        const bool timer = wc == kWakeTimer;
        const WakeKind wake = wc == kWakeTask ? WakeKind::kTask
                              : timer         ? WakeKind::kTimer
                              : wc == kWakeHardirq || wc == kWakeSoftirq || wc == kWakeNmi
                                  ? WakeKind::kInterrupt
                                  : WakeKind::kUnknown;
        int32_t waker = r.waker;  // -1 for interrupts and timers (TraceData::load)
        const bool by_recorder = d.is_recorder(waker);
        // A wait for a Python GIL is named for who held the GIL, however the wait ended (it
        // times out every switch interval while the holder keeps it).
        const std::optional<int32_t> gil_holder =
            by_recorder ? std::nullopt : d.gil_holder_of(r.id);
        const bool gpu_waker = waker >= 0 && d.threads[static_cast<size_t>(waker)].gpu_agent;
        BlockCause cause;
        if (gil_holder) {
          cause = BlockCause::kGil;
          waker = *gil_holder;
        } else if (by_recorder) {
          // Stopped (SIGSTOP) while the recorder attached probes, then resumed: its overhead,
          // never a lock or a wait on another task.
          cause = BlockCause::kRecorder;
          reason = "stopped by the recorder";
        } else if (timer) {
          cause = BlockCause::kSleep;  // a timeout or sleep expired: nobody woke it
        } else if (gpu_waker || (in_cuda_call && waker < 0 && r.state == kSleeping)) {
          cause = BlockCause::kGpu;
        } else if (r.state == kUninterruptible || io != nullptr || is_io_syscall(reason)) {
          cause = BlockCause::kIo;
        } else if (reason == "futex" || reason == "futex_waitv") {
          cause = BlockCause::kLock;
        } else if (reason == "nanosleep" || reason == "clock_nanosleep") {
          cause = BlockCause::kSleep;
        } else {
          cause = BlockCause::kWait;
        }
        switch (cause) {
          case BlockCause::kGpu:
            acc.gpu_wait_ns += ns;
            t.gpu_ns += ns;
            break;
          case BlockCause::kIo:
            acc.blocked_ns += ns;
            t.io_ns += ns;
            break;
          case BlockCause::kLock:
            acc.blocked_ns += ns;
            t.lock_ns += ns;
            break;
          case BlockCause::kGil:
            acc.blocked_ns += ns;
            t.gil_ns += ns;
            break;
          case BlockCause::kSleep:
            acc.blocked_ns += ns;
            t.sleep_ns += ns;
            break;
          case BlockCause::kWait:
            acc.blocked_ns += ns;
            t.wait_ns += ns;
            break;
          case BlockCause::kRecorder:
            acc.blocked_ns += ns;
            t.recorder_ns += ns;
            break;
        }
        if ((cause == BlockCause::kLock || cause == BlockCause::kWait) && waker >= 0 &&
            waker != thread) {
          t.waited_on_others_ns += ns;
        }
        add_block(acc, cause, std::move(reason), r, waker,
                  gil_holder ? (waker >= 0 ? WakeKind::kTask : WakeKind::kUnknown) : wake, io, ns,
                  s, e);
        break;
      }
    }
  }
  const int64_t missing = (end - start) - covered;
  if (missing > 0) {
    acc.unaccounted_ns += missing;
    t.unaccounted_ns += missing;
  }
  return t;
}

Decomposition decompose(TraceData& d, int32_t thread, int64_t start, int64_t end,
                        bool in_cuda_call) {
  Decomposition out;
  decompose_into(d, thread, start, end, in_cuda_call, out);
  out.sort_shares();
  return out;
}

std::vector<WakerHop> waker_chain(TraceData& d, int32_t subject, int32_t waker, int64_t start,
                                  int64_t end, int max_depth) {
  std::vector<WakerHop> hops;
  std::set<int32_t> seen = {subject};
  for (int depth = 1; depth <= max_depth; ++depth) {
    if (waker < 0 || end <= start || seen.count(waker)) break;
    const ThreadInfo& w = d.threads[static_cast<size_t>(waker)];
    if (w.gpu_agent || w.recorder) break;
    seen.insert(waker);
    WakerHop hop;
    hop.depth = depth;
    hop.thread = waker;
    hop.window_start = start;
    hop.window_end = end;
    hop.what = decompose(d, waker, start, end, false);
    const Decomposition& x = hop.what;
    const int64_t window = end - start;
    // The dominant activity of the waker over the window.
    const BlockShare* top_block = nullptr;
    for (const BlockShare& b : x.blocked) {
      if (!top_block || b.ns > top_block->ns) top_block = &b;
    }
    struct Candidate {
      const char* activity;
      int64_t ns;
    };
    const Candidate cands[] = {
        {"on_cpu", x.on_cpu_ns},
        {"runnable", x.runnable_ns},
        {"blocked", top_block ? top_block->ns : 0},
        {"untraced", x.unaccounted_ns},
    };
    const Candidate* best = &cands[0];
    for (const Candidate& c : cands) {
      if (c.ns > best->ns) best = &c;
    }
    const std::string share = pct(best->ns, window);
    const std::string of_window = " (" + share + " of the " + format_duration(window) + " wait)";
    int32_t next = -1;
    int64_t next_start = 0, next_end = 0;
    if (std::string_view(best->activity) == "on_cpu") {
      hop.activity = "on_cpu";
      hop.detail = "was running on CPU";
      if (!x.cpus.empty()) {
        hop.detail += x.cpus.size() == 1 ? " " : "s ";
        for (size_t i = 0; i < x.cpus.size() && i < 4; ++i) {
          hop.detail += (i ? "," : "") + std::to_string(x.cpus[i]);
        }
      }
      hop.detail += " for " + format_duration(x.on_cpu_ns) + of_window;
    } else if (std::string_view(best->activity) == "runnable") {
      hop.activity = "runnable";
      hop.detail =
          "was runnable, waiting for a CPU, for " + format_duration(x.runnable_ns) + of_window;
      int64_t held = 0;
      const int32_t holder = top_cpu_holder(d, x, &held);
      const int64_t idle = x.runnable_idle_ns();
      if (holder >= 0 && held > idle) {
        const ThreadInfo& p = d.threads[static_cast<size_t>(holder)];
        const PreemptShare* q = nullptr;
        for (const PreemptShare& c : x.preempters) {
          if (c.thread == holder && (!q || c.ns > q->ns)) q = &c;
        }
        hop.detail += " while " + quoted_name(p.name) + " (pid " + std::to_string(p.pid) + ")" +
                      (q && q->from_slices ? " held its CPU" : " took its CPU");
        if (q && q->cpu >= 0) hop.detail += " " + std::to_string(q->cpu);
        hop.detail += " for " + format_duration(held);
      } else if (idle > 0) {
        hop.detail += ", " + format_duration(idle) +
                      " of it with its CPU idle (wakeup latency or CPU-quota throttling)";
      }
      for (const PreemptShare& q : x.preempters) {
        if (q.thread == (holder >= 0 && held > idle ? holder : kIdleHolder)) {
          hop.state_ids.push_back(q.largest_state_id);
          hop.state_ts.push_back(q.largest_ts);
          break;
        }
      }
      if (hop.state_ids.empty() && !x.preempters.empty()) {
        hop.state_ids.push_back(x.preempters[0].largest_state_id);
        hop.state_ts.push_back(x.preempters[0].largest_ts);
      }
    } else if (std::string_view(best->activity) == "untraced") {
      hop.activity = "untraced";
      hop.detail = "has no scheduling data for " + format_duration(x.unaccounted_ns) + of_window +
                   " (not traced, or it exited)";
    } else {
      const BlockShare& b = *top_block;
      hop.state_ids.push_back(b.largest_state_id);
      hop.state_ts.push_back(b.largest_ts);
      if (b.largest_syscall_id) hop.syscall_ids.push_back(b.largest_syscall_id);
      if (b.largest_io_id) hop.io_ids.push_back(b.largest_io_id);
      const std::string in =
          b.reason == "sleeping" || b.reason == "uninterruptible" || b.reason == "other"
              ? " (" + b.reason + ")"
              : " in " + b.reason;
      switch (b.cause) {
        case BlockCause::kIo:
          hop.activity = "blocked_io";
          hop.detail = "was blocked" + in + " waiting for I/O";
          if (b.dev) hop.detail += " on device " + device_name(b.dev);
          hop.detail += " for " + format_duration(b.ns) + of_window;
          break;
        case BlockCause::kLock:
          hop.activity = "lock_wait";
          hop.detail =
              "was itself waiting on a lock" + in + " for " + format_duration(b.ns) + of_window;
          break;
        case BlockCause::kGil:
          hop.activity = "gil_wait";
          hop.detail =
              "was itself waiting for the Python GIL for " + format_duration(b.ns) + of_window;
          break;
        case BlockCause::kSleep:
          hop.activity = "sleeping";
          hop.detail = b.wake == WakeKind::kTimer
                           ? "was blocked" + in + " until a timeout expired for " +
                                 format_duration(b.ns) + of_window
                           : "was sleeping" + in + " for " + format_duration(b.ns) + of_window;
          break;
        case BlockCause::kRecorder:
          hop.activity = "recorder";
          hop.detail = "was stopped by the causeway recorder (attaching probes) for " +
                       format_duration(b.ns) + of_window;
          break;
        case BlockCause::kGpu:
          hop.activity = "gpu_wait";
          hop.detail = "was waiting for the GPU for " + format_duration(b.ns) + of_window;
          break;
        case BlockCause::kWait:
          hop.activity = "waiting";
          hop.detail = "was blocked" + in + " for " + format_duration(b.ns) + of_window;
          break;
      }
      if ((b.cause == BlockCause::kLock || b.cause == BlockCause::kWait ||
           b.cause == BlockCause::kSleep || b.cause == BlockCause::kGil) &&
          b.waker >= 0 && !d.is_recorder(b.waker)) {
        const ThreadInfo& n = d.threads[static_cast<size_t>(b.waker)];
        hop.detail += ", " + std::string(b.cause == BlockCause::kGil ? "held by" : "until") + " " +
                      quoted_name(n.name) + " (pid " + std::to_string(n.pid) + ", tid " +
                      std::to_string(n.tid) + ")" + (b.cause == BlockCause::kGil ? "" : " woke it");
        next = b.waker;
        next_start = b.largest_ts;
        next_end = b.largest_end;
      } else if (b.wake == WakeKind::kInterrupt && b.cause != BlockCause::kGpu) {
        hop.detail += ", until an interrupt woke it";
      }
    }
    hops.push_back(std::move(hop));
    waker = next;
    start = next_start;
    end = next_end;
  }
  return hops;
}

}  // namespace causeway::analyze

#include "capture/decoder.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <iterator>

namespace causeway::capture {
namespace {

struct SyscallDef {
  int32_t nr;
  const char* name;
};
// Every x86_64 syscall, from the kernel UAPI header at build time (src/capture/CMakeLists.txt).
constexpr SyscallDef kSyscalls[] = {
#include "syscall_table_x86_64.inc"
};

// Recorded by default: issue 3's list and their close relatives (numbers from kSyscalls).
constexpr const char* kRecordedByDefault[] = {
    "read",         "write",       "open",      "close",       "poll",
    "mmap",         "munmap",      "ioctl",     "pread64",     "pwrite64",
    "readv",        "writev",      "select",    "sched_yield", "msync",
    "nanosleep",    "fsync",       "fdatasync", "futex",       "clock_nanosleep",
    "epoll_wait",   "openat",      "pselect6",  "ppoll",       "sync_file_range",
    "epoll_pwait",  "preadv",      "pwritev",   "preadv2",     "pwritev2",
    "epoll_pwait2", "futex_waitv",
};

template <typename T>
const T* as(std::span<const uint8_t> rec) {
  return rec.size() >= sizeof(T) ? reinterpret_cast<const T*>(rec.data()) : nullptr;
}

// Records with a trailing stack: the fixed part must be there, and stack_depth frames.
template <typename T>
const T* as_with_stack(std::span<const uint8_t> rec, uint32_t* depth) {
  constexpr size_t fixed = sizeof(T) - sizeof(T::stack);
  if (rec.size() < fixed) return nullptr;
  const T* ev = reinterpret_cast<const T*>(rec.data());
  uint32_t d = std::min<uint32_t>(ev->stack_depth, CW_MAX_STACK);
  d = std::min<uint32_t>(d, static_cast<uint32_t>((rec.size() - fixed) / 8));
  *depth = d;
  return ev;
}

std::string comm_string(const char* comm) {
  return std::string(comm, strnlen(comm, CW_COMM_LEN));
}

char block_op(uint32_t cmd_flags) {
  switch (cmd_flags & 0xff) {
    case 0:
      return 'R';
    case 1:
      return 'W';
    case 2:
      return 'F';
    case 3:
      return 'D';
    default:
      return '?';
  }
}

// Times in a record are CLOCK_MONOTONIC ns since boot, or durations: far below 2^61 ns (73
// years). A larger one is a damaged record, and the decoder's differences and sums of times
// could overflow on it, so the record is skipped as malformed. 0 stays valid ("not seen").
constexpr uint64_t kMaxEventNs = uint64_t{1} << 61;

bool plausible_ns(uint64_t v) {
  return v <= kMaxEventNs;
}

// Whether every time field of `rec` (header kind already read) is plausible. Fields beyond a
// short record's end are not looked at: the handlers refuse such records themselves.
bool plausible_times(const cw_header& h, std::span<const uint8_t> rec) {
  if (!plausible_ns(h.ts_ns)) return false;
  switch (h.kind) {
    case CW_EV_CUDA_CALL:
      if (rec.size() < offsetof(cw_cuda_call, stack)) return true;
      return plausible_ns(reinterpret_cast<const cw_cuda_call*>(rec.data())->dur_ns);
    case CW_EV_SCHED_SWITCH:
      if (rec.size() < offsetof(cw_sched_switch, stack)) return true;
      return plausible_ns(reinterpret_cast<const cw_sched_switch*>(rec.data())->syscall_ts);
    case CW_EV_WAKEUP:
      if (rec.size() < sizeof(cw_wakeup)) return true;
      return plausible_ns(reinterpret_cast<const cw_wakeup*>(rec.data())->waking_ts);
    case CW_EV_SYSCALL:
      if (rec.size() < sizeof(cw_syscall)) return true;
      return plausible_ns(reinterpret_cast<const cw_syscall*>(rec.data())->dur_ns);
    case CW_EV_BLOCK_IO: {
      if (rec.size() < sizeof(cw_block_io)) return true;
      const auto* ev = reinterpret_cast<const cw_block_io*>(rec.data());
      return plausible_ns(ev->insert_ts) && plausible_ns(ev->issue_ts) &&
             plausible_ns(ev->complete_ts);
    }
    default:
      return true;
  }
}

}  // namespace

std::string_view syscall_name(int32_t nr) {
  // The table is in number order with few gaps: index first, search when that misses.
  if (nr >= 0 && static_cast<size_t>(nr) < std::size(kSyscalls) && kSyscalls[nr].nr == nr)
    return kSyscalls[nr].name;
  for (const auto& s : kSyscalls) {
    if (s.nr == nr) return s.name;
  }
  return {};
}

void for_each_syscall(const std::function<void(int32_t nr, std::string_view name)>& fn) {
  for (const auto& s : kSyscalls) fn(s.nr, s.name);
}

const std::vector<int32_t>& default_syscalls() {
  static const std::vector<int32_t> all = [] {
    std::vector<int32_t> v;
    for (const char* name : kRecordedByDefault) {
      for (const auto& s : kSyscalls) {
        if (std::string_view(s.name) == name) v.push_back(s.nr);
      }
    }
    return v;
  }();
  return all;
}

Decoder::Decoder(RowSink& sink, const CudaFunctionTable& functions, DecoderOptions options,
                 DecoderHooks hooks)
    : sink_(sink), functions_(functions), options_(std::move(options)), hooks_(std::move(hooks)) {
  for (int32_t nr : options_.recorded_syscalls) {
    if (nr >= 0 && nr < CW_MAX_SYSCALL_NR) recorded_[nr] = true;
  }
}

Status Decoder::ingest(std::span<const uint8_t> record) {
  counts_.events++;
  const auto* h = as<cw_header>(record);
  if (!h || !plausible_times(*h, record)) {
    counts_.malformed++;
    return Status::Ok();
  }
  switch (h->kind) {
    case CW_EV_CUDA_CALL:
      return on_cuda(record);
    case CW_EV_SCHED_SWITCH:
      return on_switch(record);
    case CW_EV_WAKEUP:
      return on_wakeup(record);
    case CW_EV_FORK:
      return on_fork(record);
    case CW_EV_EXEC:
      return on_exec(record);
    case CW_EV_EXIT:
      return on_exit(record);
    case CW_EV_SYSCALL:
      return on_syscall(record);
    case CW_EV_BLOCK_IO:
      return on_block_io(record);
    case CW_EV_OOM_KILL:
      return on_oom(record);
    case CW_EV_LIB_LOAD:
      return on_lib_load(record);
    case CW_EV_MIGRATE:
      return on_migrate(record);
    case CW_EV_PY_STACK:  // claimed by its CUDA call / blocked interval (python_stacks.cpp)
      return options_.python ? options_.python->ingest(record) : Status::Ok();
    case CW_EV_USER_STACK:  // unwound now, claimed by its CUDA call / blocked interval
      return options_.dwarf ? options_.dwarf->ingest(record) : Status::Ok();
    default:
      counts_.malformed++;
      return Status::Ok();
  }
}

Decoder::Task& Decoder::task(int32_t pid, int32_t tid) {
  Task& t = tasks_[tid];
  if (t.pid == 0) t.pid = pid;
  return t;
}

Decoder::Process& Decoder::process(int32_t pid) {
  Process& p = processes_[pid];
  p.info.pid = pid;
  return p;
}

Status Decoder::note_process(Process& p) {
  p.noted = true;
  return sink_.note_process(p.info);
}

Status Decoder::note_task(int32_t tid, Task& t) {
  t.comm_noted = true;
  store::ThreadInfo info;
  info.pid = t.pid;
  info.tid = tid;
  info.comm = t.comm;
  info.traced = t.traced;
  info.start_ts_ns = t.start_ts;
  info.end_ts_ns = t.end_ts;
  return sink_.note_thread(info);
}

Status Decoder::see_task(int32_t pid, int32_t tid, const char* comm, bool traced) {
  if (tid == 0) return Status::Ok();  // the idle task: not a thread anyone cares about
  Task& t = task(pid, tid);
  bool changed = !t.comm_noted;
  if (traced && !t.traced) {
    t.traced = true;
    changed = true;
  }
  if (comm) {
    size_t n = strnlen(comm, CW_COMM_LEN);
    if (t.comm.size() != n || t.comm.compare(0, n, comm, n) != 0) {
      t.comm.assign(comm, n);
      changed = true;
    }
  }
  if (traced) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) {
      Process& p = process(pid);
      p.info.traced = true;
      if (tid == pid) p.info.name = t.comm;
      if (Status s = note_process(p); !s.ok()) return s;
      if (hooks_.on_new_process) hooks_.on_new_process(pid);
    } else if (tid == pid && !t.comm.empty() && it->second.info.name != t.comm) {
      it->second.info.name = t.comm;
      if (Status s = note_process(it->second); !s.ok()) return s;
    }
  } else if (tid == pid && changed && !t.comm.empty()) {
    // An untraced process (a preempter, a waker): its name is all we know.
    Process& p = process(pid);
    if (!p.info.traced && p.info.name != t.comm) {
      p.info.name = t.comm;
      if (Status s = note_process(p); !s.ok()) return s;
    }
  }
  return changed ? note_task(tid, t) : Status::Ok();
}

Status Decoder::emit_state(int32_t tid, Task& t, store::ThreadStateRow row) {
  row.pid = t.pid;
  row.tid = tid;
  if (row.dur_ns < 0) row.dur_ns = 0;
  // A blocked interval inside a recorded syscall waits for that syscall's row id.
  if (row.syscall_nr && *row.syscall_nr >= 0 && *row.syscall_nr < CW_MAX_SYSCALL_NR &&
      recorded_[*row.syscall_nr] && t.syscall_ts != 0) {
    if (!t.pending.empty() && t.pending_syscall_ts != t.syscall_ts) {
      if (Status s = flush_pending(t, std::nullopt); !s.ok()) return s;
    }
    t.pending_syscall_ts = t.syscall_ts;
    t.pending.push_back(row);
    if (t.pending.size() > 4096) return flush_pending(t, std::nullopt);
    return Status::Ok();
  }
  counts_.thread_states++;
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

Status Decoder::flush_pending(Task& t, std::optional<store::RowId> syscall_row) {
  for (auto& row : t.pending) {
    row.syscall_row = syscall_row;
    counts_.thread_states++;
    auto r = sink_.add(row);
    if (!r.ok()) {
      t.pending.clear();
      return r.status();
    }
  }
  t.pending.clear();
  t.pending_syscall_ts = 0;
  return Status::Ok();
}

Status Decoder::close_on_cpu(int32_t tid, Task& t, int64_t ts) {
  store::ThreadStateRow row;
  row.ts_ns = t.since;
  row.dur_ns = ts - t.since;
  row.state = store::ThreadState::kRunning;
  row.cpu = t.cpu;
  t.where = Task::Where::kUnknown;
  return emit_state(tid, t, row);
}

Status Decoder::close_off_cpu(int32_t tid, Task& t, int64_t ts) {
  store::ThreadStateRow row;
  row.ts_ns = t.since;
  row.cpu = t.cpu;
  row.kernel_state = t.kernel_state;
  if (t.syscall_nr >= 0) row.syscall_nr = t.syscall_nr;
  row.stack = t.stack;
  row.py_stack = t.py_stack;
  t.where = Task::Where::kUnknown;
  const bool blocked = t.off_state != store::ThreadState::kRunnable;
  if (blocked && t.woken_ts > t.since && t.woken_ts <= ts) {
    // Blocked until the wakeup, then runnable until it got a CPU again.
    row.dur_ns = t.woken_ts - t.since;
    row.state = t.off_state;
    if (t.waker_tid != 0) {
      row.waker_pid = t.waker_pid;
      row.waker_tid = t.waker_tid;
    }
    row.waker_context = t.waker_context;
    if (Status s = emit_state(tid, t, row); !s.ok()) return s;
    store::ThreadStateRow wait;
    wait.ts_ns = t.woken_ts;
    wait.dur_ns = ts - t.woken_ts;
    wait.state = store::ThreadState::kRunnable;
    wait.cpu = t.woken_cpu >= 0 ? t.woken_cpu : t.cpu;  // the queue it waited in
    wait.syscall_nr = row.syscall_nr;
    return emit_state(tid, t, wait);
  }
  row.dur_ns = ts - t.since;
  row.state = t.off_state;
  if (!blocked && t.has_preempter) {
    row.preempter_pid = t.preempter_pid;
    row.preempter_tid = t.preempter_tid;
  }
  return emit_state(tid, t, row);
}

Status Decoder::on_switch(std::span<const uint8_t> rec) {
  uint32_t depth = 0;
  const auto* ev = as_with_stack<cw_sched_switch>(rec, &depth);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.switches++;
  const int64_t ts = static_cast<int64_t>(ev->h.ts_ns);
  const auto prev_pid = static_cast<int32_t>(ev->h.pid), prev_tid = static_cast<int32_t>(ev->h.tid);
  const auto next_pid = static_cast<int32_t>(ev->next_pid),
             next_tid = static_cast<int32_t>(ev->next_tid);
  if (Status s = see_task(prev_pid, prev_tid, ev->prev_comm, ev->prev_traced); !s.ok()) return s;
  if (Status s = see_task(next_pid, next_tid, ev->next_comm, ev->next_traced); !s.ok()) return s;
  // When prev got this CPU, if the CPU's own record says so (the switch that gave it the CPU
  // was recorded, e.g. while its process was not traced yet): read before the update below.
  std::optional<int64_t> prev_got_cpu;
  if (ev->h.cpu < cpus_.size()) {
    const CpuTrack& k = cpus_[ev->h.cpu].at;
    if (k.known && k.tid == prev_tid && ev->cpu_seq == k.seq + 1) prev_got_cpu = k.since;
  }
  if (Status s = cpu_switch(ev->h.cpu, ev->cpu_seq, ts, prev_tid, next_pid, next_tid); !s.ok())
    return s;

  if (ev->prev_traced && prev_tid != 0) {
    Task& p = task(prev_pid, prev_tid);
    if (!p.dead) {
      if (p.where == Task::Where::kOnCpu) {
        if (Status s = close_on_cpu(prev_tid, p, ts); !s.ok()) return s;
      } else if (p.where == Task::Where::kUnknown &&
                 (prev_got_cpu || (options_.start_ns > 0 && options_.start_ns < ts &&
                                   from_start_.count(prev_pid)))) {
        // Its first record leaves the CPU: it had the CPU since the recorded switch that gave
        // it, or — in a process traced from the start — since before tracing started. A
        // process enrolled later (--all) may have got the CPU at any time before: unknown,
        // so no interval rather than one overlapping what else ran there.
        p.since = prev_got_cpu ? *prev_got_cpu : options_.start_ns;
        p.cpu = static_cast<int32_t>(ev->h.cpu);
        if (Status s = close_on_cpu(prev_tid, p, ts); !s.ok()) return s;
      } else if (p.where == Task::Where::kOffCpu) {
        // Leaving a CPU it was never seen taking: the switch that gave it the CPU was not
        // recorded. Rare (seen under load), counted so checkers know holders are unknown here.
        counts_.switches_missed++;
        if (Status s = close_off_cpu(prev_tid, p, ts); !s.ok()) return s;
      }
      const uint32_t st = ev->prev_state;
      p.where = Task::Where::kOffCpu;
      p.since = ts;
      p.cpu = static_cast<int32_t>(ev->h.cpu);
      p.kernel_state = st;
      p.syscall_nr = ev->syscall_nr;
      p.syscall_ts = static_cast<int64_t>(ev->syscall_ts);
      p.woken_ts = 0;
      p.woken_cpu = -1;
      p.waker_context.reset();
      p.has_preempter = false;
      p.stack = 0;
      if (ev->preempt || (st & 0xff) == 0) {
        p.off_state = store::ThreadState::kRunnable;
        if (next_tid != 0) {
          p.has_preempter = true;
          p.preempter_pid = next_pid;
          p.preempter_tid = next_tid;
        }
      } else if (st & 0x1) {
        p.off_state = store::ThreadState::kSleeping;
      } else if (st & 0x2) {
        p.off_state = store::ThreadState::kUninterruptible;
      } else {
        p.off_state = store::ThreadState::kOther;
      }
      p.py_stack = options_.python ? options_.python->take(prev_tid, ts) : 0;
      p.stack = intern_stack(
          prev_pid, prev_tid, ts,
          std::span<const uint64_t>(reinterpret_cast<const uint64_t*>(ev->stack), depth));
    }
  }
  if (ev->next_traced && next_tid != 0) {
    Task& n = task(next_pid, next_tid);
    if (!n.dead) {
      if (n.where == Task::Where::kOffCpu) {
        if (Status s = close_off_cpu(next_tid, n, ts); !s.ok()) return s;
      }
      n.where = Task::Where::kOnCpu;
      n.since = ts;
      n.cpu = static_cast<int32_t>(ev->h.cpu);
    }
  }
  return Status::Ok();
}

namespace {

// Who can hold a CPU that capture tracks (the BPF side's CW_MAX_CPUS is smaller).
constexpr uint32_t kMaxCpus = 4096;

std::optional<store::WakerContext> waker_context_of(uint8_t ctx) {
  switch (ctx) {
    case CW_WAKER_TASK:
      return store::WakerContext::kTask;
    case CW_WAKER_HARDIRQ:
      return store::WakerContext::kHardirq;
    case CW_WAKER_SOFTIRQ:
      return store::WakerContext::kSoftirq;
    case CW_WAKER_TIMER:
      return store::WakerContext::kTimer;
    case CW_WAKER_NMI:
      return store::WakerContext::kNmi;
    default:
      return std::nullopt;
  }
}

}  // namespace

Status Decoder::on_wakeup(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_wakeup>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.wakeups++;
  const int64_t ts = static_cast<int64_t>(ev->h.ts_ns);
  const std::optional<store::WakerContext> context = waker_context_of(ev->waker_ctx);
  // Only a task (or, without a sched_waking record, the task that happened to run) is a
  // waker; an interrupt or a timer is recorded as the context alone.
  const bool by_task = !context || *context == store::WakerContext::kTask;
  const auto waker_pid = by_task ? static_cast<int32_t>(ev->h.pid) : 0,
             waker_tid = by_task ? static_cast<int32_t>(ev->h.tid) : 0;
  const auto wakee_pid = static_cast<int32_t>(ev->wakee_pid),
             wakee_tid = static_cast<int32_t>(ev->wakee_tid);
  if (waker_tid != 0) {
    const bool waker_traced = tasks_.count(waker_tid) && tasks_[waker_tid].traced;
    if (Status s = see_task(waker_pid, waker_tid, ev->waker_comm, waker_traced); !s.ok()) return s;
  }
  if (Status s = see_task(wakee_pid, wakee_tid, ev->wakee_comm, true); !s.ok()) return s;
  if (ev->target_cpu >= 0) {
    cpu_seen(static_cast<uint32_t>(ev->target_cpu), ev->cpu_seq, ts,
             static_cast<int32_t>(ev->cpu_curr_pid), static_cast<int32_t>(ev->cpu_curr_tid));
  }

  store::WakeupRow row;
  row.ts_ns = ts;
  row.wakee_pid = wakee_pid;
  row.wakee_tid = wakee_tid;
  row.waker_pid = waker_pid;
  row.waker_tid = waker_tid;
  row.target_cpu = ev->target_cpu;
  row.waker_context = context;
  if (auto r = sink_.add(row); !r.ok()) return r.status();

  Task& w = task(wakee_pid, wakee_tid);
  if (ev->is_new && w.where == Task::Where::kUnknown) {
    // A new task is runnable from its first wakeup until it first runs.
    w.where = Task::Where::kOffCpu;
    w.since = ts;
    w.cpu = ev->target_cpu;
    w.off_state = store::ThreadState::kRunnable;
    w.kernel_state = 0;
    w.syscall_nr = -1;
    w.syscall_ts = 0;
    w.has_preempter = false;
    w.stack = 0;
    w.woken_ts = 0;
    w.woken_cpu = -1;
  } else if (w.where == Task::Where::kOffCpu && w.off_state != store::ThreadState::kRunnable &&
             w.woken_ts == 0) {
    w.woken_ts = ts;
    w.waker_pid = waker_pid;
    w.waker_tid = waker_tid;
    w.waker_context = context;
    w.woken_cpu = ev->target_cpu;
  }
  return Status::Ok();
}

Status Decoder::on_migrate(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_migrate>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.migrations++;
  const int64_t ts = static_cast<int64_t>(ev->h.ts_ns);
  if (ev->dest_cpu >= 0) {
    cpu_seen(static_cast<uint32_t>(ev->dest_cpu), ev->dest_seq, ts,
             static_cast<int32_t>(ev->dest_curr_pid), static_cast<int32_t>(ev->dest_curr_tid));
  }
  const auto tid = static_cast<int32_t>(ev->h.tid);
  auto it = tasks_.find(tid);
  if (it == tasks_.end() || !it->second.traced || it->second.dead) return Status::Ok();
  return requeue(tid, it->second, ts, ev->dest_cpu);
}

Status Decoder::requeue(int32_t tid, Task& t, int64_t ts, int32_t cpu) {
  if (t.where != Task::Where::kOffCpu || ts < t.since) return Status::Ok();
  const bool waiting_for_cpu =
      t.off_state == store::ThreadState::kRunnable || (t.woken_ts > t.since && t.woken_ts <= ts);
  if (!waiting_for_cpu) return Status::Ok();  // still asleep: not a queue move
  // The queue it leaves: where the wakeup put it, or where it was preempted.
  const int32_t old_cpu = t.off_state == store::ThreadState::kRunnable ? t.cpu : t.woken_cpu;
  if (old_cpu >= 0 && old_cpu != cpu) {
    if (Status s = cut_cpu_stretch(static_cast<uint32_t>(old_cpu), ts); !s.ok()) return s;
  }
  if (Status s = close_off_cpu(tid, t, ts); !s.ok()) return s;
  // The rest of the wait is in the new CPU's queue; who takes which CPU is in cpu_slice.
  t.where = Task::Where::kOffCpu;
  t.since = ts;
  t.cpu = cpu;
  t.off_state = store::ThreadState::kRunnable;
  t.kernel_state = 0;
  t.has_preempter = false;
  t.stack = 0;
  t.py_stack = 0;
  t.woken_ts = 0;
  t.woken_cpu = -1;
  t.waker_context.reset();
  return Status::Ok();
}

Status Decoder::add_slice(uint32_t cpu, const CpuTrack& holder, int64_t until) {
  store::CpuSliceRow row;
  row.ts_ns = holder.since;
  row.dur_ns = until - holder.since;
  row.cpu = static_cast<int32_t>(cpu);
  row.pid = holder.pid;
  row.tid = holder.tid;
  if (auto r = sink_.add(row); !r.ok()) return r.status();
  counts_.cpu_slices++;
  return Status::Ok();
}

Status Decoder::cut_cpu_stretch(uint32_t cpu, int64_t ts) {
  if (cpu >= cpus_.size()) return Status::Ok();
  // Once nobody waits for this CPU its switches are no longer recorded, so the task holding
  // it now would never get a slice for the time the moved thread waited behind it. Every
  // switch before `ts` was recorded (the thread was queued here), so the holder is the one
  // the latest switch or sighting named.
  CpuTrack& k = cpus_[cpu].at;
  CpuTrack& seen = cpus_[cpu].seen;
  CpuTrack* open = seen.known && (!k.known || seen.seq > k.seq) ? &seen : &k;
  if (!open->known || ts <= open->since) return Status::Ok();
  if (Status s = add_slice(cpu, *open, ts); !s.ok()) return s;
  open->since = ts;
  return Status::Ok();
}

Status Decoder::cpu_switch(uint32_t cpu, uint64_t seq, int64_t ts, int32_t prev_tid,
                           int32_t next_pid, int32_t next_tid) {
  if (cpu >= kMaxCpus || seq == 0) return Status::Ok();
  if (cpus_.size() <= cpu) cpus_.resize(cpu + 1);
  CpuTrack& k = cpus_[cpu].at;
  CpuTrack& seen = cpus_[cpu].seen;
  // Who held the CPU up to this switch: the stretch the previous switch started, or, when
  // that switch was not recorded, the part of it a wakeup saw (from the wakeup on).
  const CpuTrack* from = nullptr;
  if (k.known && seq == k.seq + 1 && k.tid == prev_tid && ts >= k.since) {
    from = &k;
  } else if (seen.known && seq == seen.seq + 1 && seen.tid == prev_tid && ts >= seen.since) {
    from = &seen;
  } else if (k.known && seq == k.seq + 1 && k.tid == prev_tid) {
    // The stretch was cut (cut_cpu_stretch) at a moment a little after this switch: the
    // migration's record, from another CPU, came first. Its slice already covers this switch,
    // so the next stretch starts where it ends (cpu_slice rows never overlap).
    ts = k.since;
  } else if (seen.known && seq == seen.seq + 1 && seen.tid == prev_tid) {
    ts = seen.since;  // the same for a stretch known from a sighting
  } else if (k.known && seq > k.seq + 1) {
    counts_.cpu_seq_gaps++;
  } else if (k.known && seq == k.seq + 1) {
    counts_.cpu_holder_breaks++;
  }
  if (from) {
    if (Status s = add_slice(cpu, *from, ts); !s.ok()) return s;
  }
  if (!k.known || seq > k.seq) k = CpuTrack{true, next_pid, next_tid, ts, seq};
  if (seen.known && seen.seq <= seq) seen = CpuTrack{};
  return Status::Ok();
}

void Decoder::cpu_seen(uint32_t cpu, uint64_t seq, int64_t ts, int32_t pid, int32_t tid) {
  if (cpu >= kMaxCpus || seq == 0) return;
  if (cpus_.size() <= cpu) cpus_.resize(cpu + 1);
  const CpuTrack& k = cpus_[cpu].at;
  CpuTrack& seen = cpus_[cpu].seen;
  // Nothing new about a stretch whose switch was already processed; the same later stretch
  // seen twice keeps its earlier sighting.
  if (k.known && seq <= k.seq) return;
  if (seen.known && seq <= seen.seq) return;
  seen = CpuTrack{true, pid, tid, ts, seq};
}

Status Decoder::on_fork(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_fork>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  const int64_t ts = static_cast<int64_t>(ev->h.ts_ns);
  const auto parent_pid = static_cast<int32_t>(ev->h.pid);
  const auto child_pid = static_cast<int32_t>(ev->child_pid),
             child_tid = static_cast<int32_t>(ev->child_tid);
  if (Status s = see_task(parent_pid, static_cast<int32_t>(ev->h.tid), ev->parent_comm, true);
      !s.ok())
    return s;
  if (child_pid != parent_pid) {
    Process& p = process(child_pid);
    p.info.ppid = parent_pid;
    p.info.name = comm_string(ev->child_comm);
    p.info.traced = true;
    p.info.start_ts_ns = ts;
    auto parent = processes_.find(parent_pid);
    if (parent != processes_.end()) p.info.cmdline = parent->second.info.cmdline;
    if (Status s = note_process(p); !s.ok()) return s;
    counts_.process_events++;
    store::ProcessEventRow row;
    row.ts_ns = ts;
    row.kind = store::ProcessEventKind::kFork;
    row.pid = parent_pid;
    row.tid = static_cast<int32_t>(ev->h.tid);
    row.other_pid = child_pid;
    if (auto r = sink_.add(row); !r.ok()) return r.status();
    if (hooks_.on_new_process) hooks_.on_new_process(child_pid);
  }
  Task& c = task(child_pid, child_tid);
  c.start_ts = ts;
  c.traced = true;
  c.dead = false;
  c.comm = comm_string(ev->child_comm);
  return note_task(child_tid, c);
}

Status Decoder::on_exec(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_exec>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  const auto pid = static_cast<int32_t>(ev->h.pid), tid = static_cast<int32_t>(ev->h.tid);
  if (Status s = see_task(pid, tid, ev->comm, true); !s.ok()) return s;
  // The old image's interpreter and code objects are gone, even when the same Python binary
  // is exec'd again: its cached code addresses would name the new image's objects wrongly.
  if (options_.python) options_.python->forget_process(pid);
  if (options_.dwarf) options_.dwarf->forget_process(pid);  // the old image's modules
  Process& p = process(pid);
  p.info.name = comm_string(ev->comm);
  p.info.traced = true;
  if (Status s = note_process(p); !s.ok()) return s;
  counts_.process_events++;
  store::ProcessEventRow row;
  row.ts_ns = static_cast<int64_t>(ev->h.ts_ns);
  row.kind = store::ProcessEventKind::kExec;
  row.pid = pid;
  row.tid = tid;
  row.filename = sink_.intern(std::string_view(ev->filename, strnlen(ev->filename, CW_PATH_LEN)));
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

Status Decoder::on_exit(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_exit>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  const int64_t ts = static_cast<int64_t>(ev->h.ts_ns);
  const auto pid = static_cast<int32_t>(ev->h.pid), tid = static_cast<int32_t>(ev->h.tid);
  if (Status s = see_task(pid, tid, ev->comm, true); !s.ok()) return s;
  Task& t = task(pid, tid);
  if (t.where == Task::Where::kOnCpu) {
    if (Status s = close_on_cpu(tid, t, ts); !s.ok()) return s;
  } else if (t.where == Task::Where::kOffCpu) {
    if (Status s = close_off_cpu(tid, t, ts); !s.ok()) return s;
  }
  if (Status s = flush_pending(t, std::nullopt); !s.ok()) return s;
  t.dead = true;
  t.end_ts = ts;
  if (Status s = note_task(tid, t); !s.ok()) return s;
  if (!ev->group_dead) return Status::Ok();
  if (options_.python) options_.python->forget_process(pid);
  if (options_.dwarf) options_.dwarf->forget_process(pid);
  Process& p = process(pid);
  p.info.end_ts_ns = ts;
  p.info.exit_code = ev->exit_code;
  if (Status s = note_process(p); !s.ok()) return s;
  counts_.process_events++;
  store::ProcessEventRow row;
  row.ts_ns = ts;
  row.kind = store::ProcessEventKind::kExit;
  row.pid = pid;
  row.tid = tid;
  row.exit_code = ev->exit_code;
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

store::StringId Decoder::syscall_string(int32_t nr) {
  auto it = syscall_names_.find(nr);
  if (it != syscall_names_.end()) return it->second;
  std::string_view name = syscall_name(nr);
  std::string fallback = "syscall_" + std::to_string(nr);
  store::StringId id = sink_.intern(name.empty() ? std::string_view(fallback) : name);
  syscall_names_.emplace(nr, id);
  return id;
}

Status Decoder::on_syscall(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_syscall>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.syscalls++;
  const auto pid = static_cast<int32_t>(ev->h.pid), tid = static_cast<int32_t>(ev->h.tid);
  if (Status s = see_task(pid, tid, nullptr, true); !s.ok()) return s;
  store::SyscallRow row;
  row.ts_ns = static_cast<int64_t>(ev->h.ts_ns);
  row.dur_ns = static_cast<int64_t>(ev->dur_ns);
  row.pid = pid;
  row.tid = tid;
  row.nr = ev->nr;
  row.name = syscall_string(ev->nr);
  row.ret = ev->ret;
  const auto* a = ev->args;
  const auto s64 = [](uint64_t v) { return static_cast<int64_t>(v); };
  const auto fd32 = [](uint64_t v) { return static_cast<int64_t>(static_cast<int32_t>(v)); };
  switch (ev->nr) {
    case 0:
    case 1:
    case 17:
    case 18:  // read write pread64 pwrite64
      row.fd = fd32(a[0]);
      row.bytes = s64(a[2]);
      break;
    case 19:
    case 20:
    case 295:
    case 296:
    case 327:
    case 328:  // vectored: bytes moved
      row.fd = fd32(a[0]);
      if (ev->ret >= 0) row.bytes = ev->ret;
      break;
    case 3:
    case 74:
    case 75:
    case 277:  // close fsync fdatasync sync_file_range
      row.fd = fd32(a[0]);
      break;
    case 2:
    case 257:  // open, openat: the new descriptor
      if (ev->ret >= 0) row.fd = ev->ret;
      break;
    case 16:  // ioctl
      row.fd = fd32(a[0]);
      row.op = s64(a[1]);
      break;
    case 9:  // mmap
      row.addr = ev->ret >= 0 ? static_cast<uint64_t>(ev->ret) : a[0];
      row.bytes = s64(a[1]);
      if (fd32(a[4]) >= 0) row.fd = fd32(a[4]);
      break;
    case 11:
    case 26:  // munmap msync
      row.addr = a[0];
      row.bytes = s64(a[1]);
      break;
    case 202:  // futex
      row.addr = a[0];
      row.op = s64(a[1]);
      break;
    case 449:  // futex_waitv
      row.addr = a[0];
      break;
    case 232:
    case 281:
    case 441:  // epoll_wait*
      row.fd = fd32(a[0]);
      break;
    default:
      break;
  }
  auto r = sink_.add(row);
  if (!r.ok()) return r.status();
  Task& t = task(pid, tid);
  if (!t.pending.empty()) {
    std::optional<store::RowId> id;
    if (t.pending_syscall_ts == row.ts_ns) id = r.value();
    return flush_pending(t, id);
  }
  return Status::Ok();
}

Status Decoder::on_block_io(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_block_io>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.block_ios++;
  store::BlockIoRow row;
  row.ts_ns = static_cast<int64_t>(ev->h.ts_ns);
  row.dur_ns = static_cast<int64_t>(ev->complete_ts) - row.ts_ns;
  if (ev->issue_ts) {
    row.queue_ns = ev->insert_ts ? static_cast<int64_t>(ev->issue_ts - ev->insert_ts) : 0;
    row.service_ns = static_cast<int64_t>(ev->complete_ts - ev->issue_ts);
  } else {
    row.service_ns = row.dur_ns;
  }
  row.pid = static_cast<int32_t>(ev->h.pid);
  row.tid = static_cast<int32_t>(ev->h.tid);
  row.dev = ev->dev;
  row.sector = ev->sector;
  row.bytes = ev->bytes;
  row.op = block_op(ev->cmd_flags);
  row.error = ev->error;
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

Status Decoder::on_oom(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_oom_kill>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  const auto victim_pid = static_cast<int32_t>(ev->victim_pid);
  const bool victim_traced = processes_.count(victim_pid) && processes_[victim_pid].info.traced;
  if (Status s = see_task(victim_pid, static_cast<int32_t>(ev->victim_tid), ev->victim_comm,
                          victim_traced);
      !s.ok())
    return s;
  counts_.process_events++;
  store::ProcessEventRow row;
  row.ts_ns = static_cast<int64_t>(ev->h.ts_ns);
  row.kind = store::ProcessEventKind::kOomKill;
  row.pid = static_cast<int32_t>(ev->h.pid);
  row.tid = static_cast<int32_t>(ev->h.tid);
  row.other_pid = victim_pid;
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

Status Decoder::on_lib_load(std::span<const uint8_t> rec) {
  const auto* ev = as<cw_lib_load>(rec);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  if (hooks_.on_lib_load) hooks_.on_lib_load(static_cast<int32_t>(ev->h.pid), ev->stopped != 0);
  return Status::Ok();
}

store::StackId Decoder::intern_stack(int32_t pid, int32_t tid, int64_t ts,
                                     std::span<const uint64_t> fp) {
  std::span<const uint64_t> frames = fp;
  if (options_.dwarf && options_.dwarf->take(tid, ts, &dwarf_frames_))
    frames = choose_stack(fp, dwarf_frames_);
  return frames.empty() ? 0 : sink_.intern_stack(pid, frames);
}

store::StringId Decoder::function_name(uint32_t id) {
  auto it = function_names_.find(id);
  if (it != function_names_.end()) return it->second;
  const CudaFunction* fn = functions_.by_id(id);
  store::StringId sid = sink_.intern(fn ? fn->name : "cuda_fn_" + std::to_string(id));
  function_names_.emplace(id, sid);
  return sid;
}

Status Decoder::on_cuda(std::span<const uint8_t> rec) {
  uint32_t depth = 0;
  const auto* ev = as_with_stack<cw_cuda_call>(rec, &depth);
  if (!ev) {
    counts_.malformed++;
    return Status::Ok();
  }
  const CudaFunction* fn = functions_.by_id(ev->func_id);
  if (!fn) {
    counts_.malformed++;
    return Status::Ok();
  }
  counts_.cuda_calls++;
  const auto pid = static_cast<int32_t>(ev->h.pid), tid = static_cast<int32_t>(ev->h.tid);
  if (Status s = see_task(pid, tid, nullptr, true); !s.ok()) return s;
  store::CudaCallRow row;
  row.ts_ns = static_cast<int64_t>(ev->h.ts_ns);
  row.dur_ns = static_cast<int64_t>(ev->dur_ns);
  row.pid = pid;
  row.tid = tid;
  row.function = function_name(ev->func_id);
  // cudaGetErrorString returns a string, not an error code.
  row.ret = fn->base == "cudaGetErrorString" ? 0 : ev->ret;
  decode_cuda_args(*fn, *ev, row);
  if (options_.python) row.py_stack = options_.python->take(tid, row.ts_ns);
  row.stack =
      intern_stack(pid, tid, row.ts_ns,
                   std::span<const uint64_t>(reinterpret_cast<const uint64_t*>(ev->stack), depth));
  auto r = sink_.add(row);
  return r.ok() ? Status::Ok() : r.status();
}

Status Decoder::finish(int64_t end_ns) {
  // Who holds a CPU that a traced thread still waits for at the end: the last known stretch
  // runs to the end (the programs are detached by now, so a later switch cannot be seen).
  std::vector<bool> waited(cpus_.size(), false);
  for (auto& [tid, t] : tasks_) {
    if (!t.traced || t.dead || t.where != Task::Where::kOffCpu) continue;
    const bool woken = t.woken_ts > t.since && t.woken_ts <= end_ns;
    const int32_t cpu = t.off_state == store::ThreadState::kRunnable ? t.cpu
                        : woken ? (t.woken_cpu >= 0 ? t.woken_cpu : t.cpu)
                                : -1;
    if (cpu >= 0 && static_cast<size_t>(cpu) < waited.size()) waited[cpu] = true;
  }
  for (size_t c = 0; c < cpus_.size(); ++c) {
    // The latest stretch known: a wakeup's sighting when its switch was never processed.
    const CpuTrack& k = cpus_[c].seen.known ? cpus_[c].seen : cpus_[c].at;
    if (!waited[c] || !k.known || end_ns < k.since) continue;
    if (Status s = add_slice(static_cast<uint32_t>(c), k, end_ns); !s.ok()) return s;
  }
  cpus_.clear();
  for (auto& [tid, t] : tasks_) {
    if (!t.traced || t.dead) continue;
    if (t.where == Task::Where::kOnCpu && end_ns >= t.since) {
      if (Status s = close_on_cpu(tid, t, end_ns); !s.ok()) return s;
    } else if (t.where == Task::Where::kOffCpu && end_ns >= t.since) {
      if (Status s = close_off_cpu(tid, t, end_ns); !s.ok()) return s;
    }
    if (Status s = flush_pending(t, std::nullopt); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace causeway::capture

#include "analyze/chains.h"
#include "common/terminal_text.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "analyze/analyzer.h"

namespace causeway::analyze {

namespace detail {

std::string percent(double f) {
  char buf[16];
  if (f > 0 && f < 0.01) return "<1%";
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * f);
  return buf;
}

std::string ratio(double r) {
  char buf[24];
  std::snprintf(buf, sizeof buf, r < 10 ? "%.1fx" : "%.0fx", r);
  return buf;
}

bool significant(const Context& ctx, int64_t ns, int64_t span) {
  return ns >= ctx.opts.min_impact_ns &&
         static_cast<double>(ns) >= ctx.opts.min_share * static_cast<double>(span);
}

std::string seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
  return buf;
}

int64_t median_of(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return percentile(v, 0.5);
}

std::string bytes_text(int64_t b) {
  char buf[32];
  const double v = static_cast<double>(b);
  if (b < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  } else if (b < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", v / 1024);
  } else if (b < 1024LL * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", v / (1024.0 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", v / (1024.0 * 1024 * 1024));
  }
  return buf;
}

TaskRef Context::task(int32_t t) const {
  TaskRef r;
  if (t < 0 || static_cast<size_t>(t) >= data.threads.size()) return r;
  const ThreadInfo& th = data.threads[static_cast<size_t>(t)];
  r.pid = th.pid;
  r.tid = th.tid;
  r.comm = th.name;
  r.process = th.process;
  return r;
}

std::string Context::who(int32_t t) const {
  const TaskRef r = task(t);
  // Names are the traced program's bytes: quoted (JSON-style) so they read as data.
  return quoted_name(r.comm) + " (pid " + std::to_string(r.pid) + ", tid " + std::to_string(r.tid) +
         ")";
}

std::string Context::culprit_phrase(int32_t t) const {
  if (t < 0) return "an unknown task";
  const TaskRef r = task(t);
  if (r.comm.empty())
    return "thread " + std::to_string(r.tid) + " (pid " + std::to_string(r.pid) + ")";
  std::string s = quoted_name(r.comm) + " (pid " + std::to_string(r.pid);
  if (r.tid != r.pid) s += ", tid " + std::to_string(r.tid);
  s += ")";
  if (!r.process.empty() && r.process != r.comm) s += " of " + quoted_name(r.process);
  return s;
}

std::string Context::severity(int64_t impact_ns, int64_t span_ns) const {
  const double share =
      span_ns > 0 ? static_cast<double>(impact_ns) / static_cast<double>(span_ns) : 0.0;
  if (share >= opts.high_share && impact_ns >= 5 * opts.min_impact_ns) return "high";
  if (share >= opts.medium_share && impact_ns >= opts.min_impact_ns) return "medium";
  return "low";
}

void Context::fill_breakdown(Chain& c, const Decomposition& d) const {
  c.on_cpu_ns = d.on_cpu_ns;
  c.runnable_ns = d.runnable_ns;
  c.blocked_ns = d.blocked_ns;
  c.gpu_wait_ns = d.gpu_wait_ns;
  c.unaccounted_ns = d.unaccounted_ns;
  c.blocked_by_reason.clear();
  c.preempters.clear();
  c.blocked.clear();
  for (const BlockShare& b : d.blocked) {
    if (b.cause == BlockCause::kGpu) continue;
    c.blocked_by_reason[b.reason] += b.ns;
  }
  for (const PreemptShare& p : d.preempters) {
    if (c.preempters.size() >= 5) break;
    PreemptorShare s;
    s.holder = p.thread >= 0 ? "task" : p.thread == kIdleHolder ? "idle" : "unknown";
    if (p.thread >= 0) s.task = task(p.thread);
    s.cpu = p.cpu;
    s.ns = p.ns;
    s.intervals = p.intervals;
    c.preempters.push_back(std::move(s));
  }
  for (const BlockShare& b : d.blocked) {
    if (b.cause == BlockCause::kGpu) continue;
    if (c.blocked.size() >= 5) break;
    BlockedShare s;
    s.cause = block_cause_word(b.cause);
    s.reason = b.reason;
    if (b.waker >= 0) s.waker = task(b.waker);
    s.woken_by = wake_word(b.wake);
    if (b.dev) s.device = device_name(b.dev);
    s.ns = b.ns;
    s.intervals = b.intervals;
    c.blocked.push_back(std::move(s));
  }
}

void Context::add_waker_chain(Chain& c, const std::vector<WakerHop>& hops) const {
  for (const WakerHop& h : hops) {
    WakerStep s;
    s.depth = h.depth;
    s.task = task(h.thread);
    s.window_start_ns = h.window_start;
    s.window_end_ns = h.window_end;
    s.activity = h.activity;
    s.detail = h.detail;
    s.on_cpu_ns = h.what.on_cpu_ns;
    s.runnable_ns = h.what.runnable_ns;
    s.blocked_ns = h.what.blocked_ns + h.what.gpu_wait_ns;
    c.waker_chain.push_back(std::move(s));
    const std::string role = "waker depth " + std::to_string(h.depth);
    for (size_t i = 0; i < h.state_ids.size(); ++i) {
      const int64_t ts = i < h.state_ts.size() ? h.state_ts[i] : h.window_start;
      c.evidence.push_back({"thread_state", h.state_ids[i], ts, role});
    }
    for (int64_t id : h.syscall_ids) c.evidence.push_back({"syscall", id, 0, role + " syscall"});
    for (int64_t id : h.io_ids) c.evidence.push_back({"block_io", id, 0, role + " I/O"});
  }
}

void Context::finish(Chain& c, int64_t span_ns) const {
  const int64_t trace = data.duration_ns();
  c.impact_share = trace > 0 ? static_cast<double>(c.impact_ns) / static_cast<double>(trace) : 0;
  c.thread_share =
      span_ns > 0 ? static_cast<double>(c.impact_ns) / static_cast<double>(span_ns) : 0;
  if (c.severity.empty()) c.severity = severity(c.impact_ns, span_ns);
  // The same row can explain two things (e.g. the worst gap's wait is also the waker's
  // window); cite it once, under its first role.
  std::vector<EvidenceRef> unique;
  for (const EvidenceRef& e : c.evidence) {
    if (e.id <= 0) continue;
    const bool seen = std::any_of(unique.begin(), unique.end(), [&](const EvidenceRef& u) {
      return u.table == e.table && u.id == e.id;
    });
    if (!seen) unique.push_back(e);
  }
  if (unique.size() > 12) unique.resize(12);
  // Syscall rows are looked up by id anyway (cached): give them their start time too.
  for (EvidenceRef& e : unique) {
    if (e.ts_ns != 0 || e.table != "syscall") continue;
    if (auto sc = data.syscall(e.id)) e.ts_ns = sc->ts;
  }
  c.evidence = std::move(unique);
}

const char* wake_word(WakeKind w) {
  switch (w) {
    case WakeKind::kTask:
      return "task";
    case WakeKind::kInterrupt:
      return "interrupt";
    case WakeKind::kTimer:
      return "timer";
    case WakeKind::kUnknown:
      return "";
  }
  return "";
}

std::string holder_phrase(const Context& ctx, const PreemptShare& p) {
  if (p.thread == kIdleHolder) return "the CPU idle";
  if (p.thread < 0) return "an unrecorded holder";
  if (ctx.data.is_recorder(p.thread)) return "the causeway recorder (its own overhead)";
  return ctx.culprit_phrase(p.thread);
}

int64_t runnable_behind_recorder(const TraceData& data, const Decomposition& d) {
  int64_t ns = 0;
  for (const PreemptShare& p : d.preempters) {
    if (data.is_recorder(p.thread)) ns += p.ns;
  }
  return ns;
}

}  // namespace detail

namespace {

using detail::Context;
using detail::percent;
using detail::ThreadCalls;

// One slow call or slow gap.
struct Slow {
  int64_t ts = 0;
  int64_t end = 0;
  int64_t excess = 0;
  int64_t call_id = 0;       // the slow call, or the call that ended the gap
  int64_t prev_call_id = 0;  // gaps: the call before
};

// Slow intervals sharing (function, category) on one thread. Decompositions are merged as
// they come (a trace can hold many thousands of outliers); only the worst one's is kept whole,
// for its waker chain and evidence.
struct SlowGroup {
  std::string category;
  std::vector<Slow> items;
  Decomposition merged;
  Decomposition worst_d;
  int64_t worst_excess = -1;
  std::map<int32_t, int64_t> culprits;  // culprit thread -> excess it explains

  void add(const Slow& s, Decomposition&& d, int32_t culprit) {
    merged.merge(d);
    culprits[culprit] += s.excess;
    if (s.excess > worst_excess) {
      worst_excess = s.excess;
      worst_d = std::move(d);
    }
    items.push_back(s);
  }
};

// Dominant cause of a decomposed interval -> category and culprit.
void classify(const TraceData& data, const Decomposition& d, bool gap, int32_t self,
              std::string& category, int32_t& culprit) {
  const int64_t io = d.blocked_by(BlockCause::kIo);
  const int64_t lock = d.blocked_by(BlockCause::kLock);
  const int64_t wait = d.blocked_by(BlockCause::kWait) + d.blocked_by(BlockCause::kSleep);
  // Runnable time behind the recorder is its overhead, not contention.
  const int64_t recorder_cpu = detail::runnable_behind_recorder(data, d);
  struct C {
    const char* cat;
    int64_t ns;
  };
  const C cands[] = {
      {gap ? "gpu_starvation" : "host_overhead", d.on_cpu_ns},
      {"cpu_contention", d.runnable_ns - recorder_cpu},
      {"blocked_io", io},
      {"lock_wait", lock},
      {"gil_wait", d.blocked_by(BlockCause::kGil)},
      {"blocked_wait", wait},
      {"gpu_busy", d.gpu_wait_ns},
      {"recorder_overhead", d.blocked_by(BlockCause::kRecorder) + recorder_cpu},
      {"unexplained", d.unaccounted_ns},
  };
  const C* best = &cands[0];
  for (const C& c : cands) {
    if (c.ns > best->ns) best = &c;
  }
  category = best->cat;
  culprit = -1;
  if (category == "cpu_contention") {
    culprit = runnable_culprit(data, d);
    // Waiting on an idle CPU under a quota that throttled the process: the quota held it.
    if (culprit < 0 && self >= 0 && d.runnable_idle_ns() * 2 >= d.runnable_ns &&
        data.throttle_of(data.threads[static_cast<size_t>(self)].pid) != nullptr) {
      category = "cpu_throttling";
    }
  } else if (category == "lock_wait" || category == "blocked_wait" || category == "gil_wait") {
    int64_t top = -1;
    for (const BlockShare& b : d.blocked) {
      const bool match = category == "lock_wait" ? b.cause == BlockCause::kLock
                         : category == "gil_wait"
                             ? b.cause == BlockCause::kGil
                             : (b.cause == BlockCause::kWait || b.cause == BlockCause::kSleep);
      if (match && b.ns > top) {
        top = b.ns;
        culprit = data.is_recorder(b.waker) ? -1 : b.waker;
      }
    }
  } else if (category == "blocked_io" || category == "gpu_starvation" ||
             category == "host_overhead") {
    culprit = self;
  }
}

}  // namespace

Chain detail::thread_chain(const Context& ctx, const ThreadFacts& f, const char* category,
                           int64_t impact_ns, const Decomposition* breakdown) {
  Chain c;
  c.kind = "thread";
  c.category = category;
  c.subject = ctx.task(f.tc.thread);
  c.impact_ns = impact_ns;
  c.window_start_ns = f.tc.span_start;
  c.window_end_ns = f.tc.span_end;
  ctx.fill_breakdown(c, breakdown ? *breakdown : f.all);
  return c;
}

// "38 ms (91%) runnable while "backup" (pid 812) ran on CPU 1; 2.1 ms (5%) on CPU"
std::string detail::breakdown_sentence(const Context& ctx, const Decomposition& d) {
  struct Part {
    int64_t ns;
    std::string text;
  };
  std::vector<Part> parts;
  const int64_t total = std::max<int64_t>(1, d.total_ns);
  auto share = [&](int64_t ns) {
    return format_duration(ns) + " (" + percent(static_cast<double>(ns) / total) + ")";
  };
  if (d.runnable_ns > 0) {
    std::string t = share(d.runnable_ns) + " runnable";
    int n = 0;
    for (const PreemptShare& p : d.preempters) {
      if (n == 2 || p.ns * 10 < d.runnable_ns) break;
      t += n == 0 ? " while " : " and ";
      if (p.thread == kIdleHolder) {
        t += "its CPU";
        if (p.cpu >= 0) t += " " + std::to_string(p.cpu);
        t += " was idle (wakeup latency or throttling)";
      } else if (p.thread < 0) {
        t += "an unrecorded task held its CPU";
        if (p.cpu >= 0) t += " " + std::to_string(p.cpu);
      } else {
        t += holder_phrase(ctx, p);
        t += p.from_slices ? " held its CPU" : " took its CPU";
        if (p.cpu >= 0) t += " " + std::to_string(p.cpu);
      }
      if (d.preempters.size() > 1) t += " (" + format_duration(p.ns) + ")";
      ++n;
    }
    parts.push_back({d.runnable_ns, t});
  }
  if (d.on_cpu_ns > 0) parts.push_back({d.on_cpu_ns, share(d.on_cpu_ns) + " on CPU"});
  int shown = 0;
  for (const BlockShare& b : d.blocked) {
    if (b.cause == BlockCause::kGpu) continue;
    if (shown == 3) break;
    ++shown;
    std::string t = share(b.ns) + " blocked";
    if (b.cause == BlockCause::kGil) {
      t += " waiting for the Python GIL";
      t += b.waker >= 0 ? ", held by " + ctx.culprit_phrase(b.waker) : "";
      parts.push_back({b.ns, t});
      continue;
    }
    if (b.reason == "sleeping" || b.reason == "uninterruptible" || b.reason == "other") {
      t += " (" + b.reason + ")";
    } else {
      t += " in " + b.reason;
    }
    if (b.cause == BlockCause::kRecorder) {
      parts.push_back({b.ns, share(b.ns) + " stopped by the causeway recorder (attaching probes)"});
      continue;
    }
    if (b.cause == BlockCause::kIo) {
      t += " waiting for I/O";
      if (b.dev) t += " on device " + device_name(b.dev);
    }
    if (b.wake == WakeKind::kTimer) {
      t += " until a timeout expired (nobody woke it)";
    } else if (b.wake == WakeKind::kInterrupt && b.cause != BlockCause::kIo) {
      t += ", woken by an interrupt";
    } else if (b.waker >= 0 && b.cause != BlockCause::kIo) {
      t += ", woken by " + ctx.culprit_phrase(b.waker);
    }
    parts.push_back({b.ns, t});
  }
  if (d.gpu_wait_ns > 0)
    parts.push_back({d.gpu_wait_ns, share(d.gpu_wait_ns) + " waiting for the GPU"});
  if (d.unaccounted_ns > 0) {
    parts.push_back({d.unaccounted_ns, share(d.unaccounted_ns) + " without scheduling data"});
  }
  std::stable_sort(parts.begin(), parts.end(),
                   [](const Part& a, const Part& b) { return a.ns > b.ns; });
  std::string out;
  for (const Part& p : parts) {
    if (p.ns * 50 < total && !out.empty()) continue;  // below 2%: noise in a sentence
    if (!out.empty()) out += "; ";
    out += p.text;
  }
  return out;
}

std::string detail::recommendation_for(const Context& ctx, const std::string& category,
                                       int32_t subject, int32_t culprit,
                                       const std::vector<WakerHop>& hops, const Decomposition& d) {
  const std::string me = quoted_name(ctx.task(subject).comm);
  if (category == "cpu_throttling") {
    const TraceData::Throttle* q = ctx.data.throttle_of(ctx.task(subject).pid);
    return me + " was ready to run while its CPU sat idle, held back by the CPU quota of " +
           (q ? "cgroup " + q->cgroup : std::string("its cgroup")) +
           ": raise the quota (cgroup v2 cpu.max, a Kubernetes CPU limit) to at least the CPU "
           "the job needs per period, or remove the limit and keep a request; then check that "
           "cpu.stat nr_throttled stays flat.";
  }
  if (category == "cpu_contention") {
    if (culprit < 0 && d.runnable_idle_ns() * 2 >= d.runnable_ns) {
      return me +
             " was ready to run while its CPU sat idle: that is wakeup latency or CPU-quota "
             "throttling, not another task. Check the cgroup's cpu.max and cpu.stat "
             "(nr_throttled), raise the quota, or keep the CPU out of deep idle states "
             "(cpupower idle-set, a PM QoS latency request).";
    }
    std::string who = culprit >= 0 ? ctx.culprit_phrase(culprit) : "the competing tasks";
    std::string cpus;
    bool seen = false;  // the CPU's timeline shows it holding the CPU, not only switching in
    for (const PreemptShare& p : d.preempters) {
      if (culprit >= 0 && p.thread != culprit) continue;
      seen = seen || p.from_slices;
      if (p.cpu >= 0 && cpus.find("CPU " + std::to_string(p.cpu)) == std::string::npos &&
          cpus.size() < 40) {
        cpus += (cpus.empty() ? "CPU " : ", CPU ") + std::to_string(p.cpu);
      }
    }
    return "Give " + me +
           " a CPU of its own: pin it to isolated cores (taskset -c / a cpuset "
           "cgroup) and keep " +
           who + " off them" +
           (cpus.empty() ? "" : (seen ? " (it held " : " (it took ") + cpus + ")") +
           ", or lower that task's priority (nice -n 19, SCHED_IDLE).";
  }
  if (category == "recorder_overhead") {
    return "This is the recorder's own cost: the causeway recorder stopped the process briefly "
           "while it attached probes (e.g. at dlopen of a CUDA library). It is not the "
           "workload's problem; start tracing before the libraries load to move it to start-up.";
  }
  if (category == "lock_wait") {
    std::string r = "Shorten the critical section " +
                    (culprit >= 0 ? ctx.culprit_phrase(culprit) : std::string("the lock holder")) +
                    " holds while " + me + " waits";
    for (const WakerHop& h : hops) {
      if (h.activity == "blocked_io") {
        return r + ": it " + h.detail.substr(0, h.detail.find(" (")) +
               " while holding it — move that I/O out of the lock (buffer and write from a "
               "background thread) so the CUDA-feeding thread never waits on the disk.";
      }
    }
    return r +
           ", or stop sharing that lock with the thread that feeds the GPU (per-thread "
           "buffers, a lock-free queue).";
  }
  if (category == "gil_wait") {
    return "Move the CPU-bound Python work " +
           (culprit >= 0 ? "of " + ctx.culprit_phrase(culprit) : std::string("of the GIL holder")) +
           " out of this process (a worker process) or into code that releases the GIL, so " + me +
           " gets the interpreter when it needs it.";
  }
  if (category == "blocked_io") {
    return "Take the blocking file I/O off " + me +
           ", the thread that feeds the GPU: read ahead "
           "in a background thread or a DataLoader worker, cache the data in memory, or use "
           "asynchronous I/O.";
  }
  if (category == "blocked_wait" && culprit < 0) {
    for (const BlockShare& b : d.blocked) {
      if (b.cause != BlockCause::kWait && b.cause != BlockCause::kSleep) continue;
      if (b.wake == WakeKind::kTimer || b.cause == BlockCause::kSleep) {
        return me +
               " slept or waited until a timeout expired; nobody woke it. Shorten or remove "
               "the sleep/timeout on this thread, or wait on the event itself instead of "
               "polling with a timeout.";
      }
      break;
    }
  }
  if (category == "blocked_wait") {
    return me + " waited for " +
           (culprit >= 0 ? ctx.culprit_phrase(culprit) : std::string("another task")) +
           "; make that producer faster or decouple it with a deeper queue so the GPU-feeding "
           "thread does not block.";
  }
  if (category == "gpu_starvation" || category == "host_overhead") {
    return "The time went to host code on " + me +
           " itself: profile it (py-spy / perf), move "
           "preprocessing off this thread, and batch work into fewer, larger launches or CUDA "
           "graphs so the GPU queue stays full.";
  }
  if (category == "gpu_busy") {
    return "These calls waited for GPU work queued before them: the host is not the bottleneck "
           "here. If that GPU time is unexpected, profile the kernels (Nsight Systems/Compute).";
  }
  return "No scheduling data covers these intervals: trace with scheduler events enabled "
         "(causeway trace records them by default) to see why they were slow.";
}

namespace {
using detail::breakdown_sentence;
using detail::holder_phrase;
using detail::recommendation_for;

// Builds the chain for a group of outlier intervals sharing (kind, function, category).
Chain outlier_chain(Context& ctx, const ThreadCalls& tc, const std::string& kind,
                    const std::string& function, const Baseline& base, SlowGroup& g) {
  std::vector<Slow>& v = g.items;
  std::sort(v.begin(), v.end(), [](const Slow& a, const Slow& b) {
    return std::tie(b.excess, a.ts) < std::tie(a.excess, b.ts);
  });
  Chain c;
  c.kind = kind;
  c.category = g.category;
  c.subject = ctx.task(tc.thread);
  c.function = function;
  c.baseline = base;
  c.occurrences = static_cast<int64_t>(v.size());
  Decomposition& merged = g.merged;
  std::vector<int64_t> durs;
  const std::map<int32_t, int64_t>& culprits = g.culprits;
  c.window_start_ns = v.front().ts;
  c.window_end_ns = v.front().end;
  for (const Slow& s : v) {
    c.impact_ns += s.excess;
    durs.push_back(s.end - s.ts);
    c.window_start_ns = std::min(c.window_start_ns, s.ts);
    c.window_end_ns = std::max(c.window_end_ns, s.end);
  }
  merged.sort_shares();
  g.worst_d.sort_shares();
  std::sort(durs.begin(), durs.end());
  c.observed_p50_ns = percentile(durs, 0.5);
  c.observed_p99_ns = percentile(durs, 0.99);
  c.observed_max_ns = durs.back();
  int32_t culprit = -1;
  int64_t best = -1;
  for (const auto& [t, ns] : culprits) {
    if (ns > best) {
      best = ns;
      culprit = t;
    }
  }
  if (culprit >= 0) c.culprit = ctx.task(culprit);
  ctx.fill_breakdown(c, merged);

  // Waker chain of the worst interval: from its largest non-GPU blocked share with a waker.
  const Slow& worst = v.front();
  const Decomposition& worst_d = g.worst_d;
  std::vector<WakerHop> hops;
  const BlockShare* top = nullptr;
  for (const BlockShare& b : worst_d.blocked) {
    if (b.cause == BlockCause::kGpu || b.waker < 0) continue;
    if (!top || b.ns > top->ns) top = &b;
  }
  if (top &&
      (c.category == "lock_wait" || c.category == "blocked_wait" || c.category == "gil_wait")) {
    hops = waker_chain(ctx.data, tc.thread, top->waker, top->largest_ts, top->largest_end,
                       ctx.opts.max_waker_depth);
  }

  const std::string who = ctx.who(tc.thread);
  const double r = base.median_ns > 0 ? static_cast<double>(c.observed_p50_ns) /
                                            static_cast<double>(base.median_ns)
                                      : 0.0;
  const std::string n = std::to_string(v.size());
  if (kind == "slow_calls") {
    c.summary = who + ": " + n + " " + function + (v.size() == 1 ? " call took " : " calls took ") +
                (r > 0 ? detail::ratio(r) + " their baseline" : "far longer than usual") +
                " (p50 " + format_duration(base.median_ns) + " -> " +
                (v.size() == 1 ? format_duration(c.observed_max_ns)
                               : "p99 " + format_duration(c.observed_p99_ns)) +
                ")";
    c.explanation =
        who + " made " + n + " " + function + " call" + (v.size() == 1 ? "" : "s") +
        " far above this thread's baseline (median " + format_duration(base.median_ns) + ", MAD " +
        format_duration(base.mad_ns) + " over " + std::to_string(base.count) + " calls): median " +
        format_duration(c.observed_p50_ns) + ", worst " + format_duration(c.observed_max_ns) +
        " (cuda_call " + std::to_string(worst.call_id) + "), " + format_duration(c.impact_ns) +
        " above baseline in total. Inside those calls: " + breakdown_sentence(ctx, merged) + ".";
  } else {
    c.summary = who + ": " + n + (v.size() == 1 ? " host gap" : " host gaps") +
                " between CUDA calls lasted " +
                (r > 0 ? detail::ratio(r) + " the usual gap" : "far longer than usual") + " (p50 " +
                format_duration(base.median_ns) + " -> " +
                (v.size() == 1 ? format_duration(c.observed_max_ns)
                               : "p99 " + format_duration(c.observed_p99_ns)) +
                "); the GPU got no new work meanwhile";
    c.explanation = "At this point of its loop (between the same two CUDA functions) " + who +
                    " usually spends " + format_duration(base.median_ns) + " (median of " +
                    std::to_string(base.count) + " gaps); " + n + " gap" +
                    (v.size() == 1 ? " was" : "s were") + " far longer (median " +
                    format_duration(c.observed_p50_ns) + ", worst " +
                    format_duration(c.observed_max_ns) + ", after cuda_call " +
                    std::to_string(worst.prev_call_id) + "), " + format_duration(c.impact_ns) +
                    " beyond the usual in total, during which this thread issued no GPU work. In "
                    "those gaps: " +
                    breakdown_sentence(ctx, merged) + ".";
  }
  if (!hops.empty()) {
    std::string s = " Waker chain of the worst one:";
    for (const WakerHop& h : hops) {
      s += (h.depth == 1 ? " " : "; in turn, ") + ctx.culprit_phrase(h.thread) + " " + h.detail;
    }
    c.explanation += s + ".";
  }
  c.recommendation = recommendation_for(ctx, c.category, tc.thread, culprit, hops, merged);

  // Evidence: the slow calls themselves, then the intervals that explain the worst one.
  const char* role = kind == "slow_calls" ? "slow call" : "call after the gap";
  for (size_t i = 0; i < v.size() && i < 5; ++i) {
    c.evidence.push_back(
        {"cuda_call", v[i].call_id, kind == "slow_calls" ? v[i].ts : v[i].end, role});
  }
  if (!worst_d.preempters.empty() && c.category == "cpu_contention") {
    const PreemptShare* p = &worst_d.preempters[0];
    for (const PreemptShare& q : worst_d.preempters) {
      if (q.ns > p->ns) p = &q;
    }
    c.evidence.push_back({"thread_state", p->largest_state_id, p->largest_ts, "runnable"});
    if (p->largest_slice_id) {
      c.evidence.push_back({"cpu_slice", p->largest_slice_id, p->largest_slice_ts, "held the CPU"});
    }
  }
  if (top || !worst_d.blocked.empty()) {
    const BlockShare* b = top;
    for (const BlockShare& q : worst_d.blocked) {
      if (q.cause != BlockCause::kGpu && (!b || q.ns > b->ns)) b = &q;
    }
    if (b) {
      c.evidence.push_back({"thread_state", b->largest_state_id, b->largest_ts, "blocked"});
      if (b->largest_syscall_id) {
        c.evidence.push_back({"syscall", b->largest_syscall_id, 0, "blocking syscall"});
      }
      if (b->largest_io_id)
        c.evidence.push_back({"block_io", b->largest_io_id, b->largest_io_ts, "I/O waited on"});
    }
  }
  ctx.add_waker_chain(c, hops);
  ctx.finish(c, tc.span());
  // GPU-bound waits are not a host problem, unexplained intervals have no cause to act on, and
  // the recorder's own stops are its overhead: none is ever more than low severity.
  if (c.category == "gpu_busy" || c.category == "unexplained" ||
      c.category == "recorder_overhead") {
    c.severity = "low";
  }
  return c;
}

// Aggregate of a launching thread's gaps: waits on other threads, to detect a data loader
// that cannot keep up.
struct GapWaits {
  int64_t gaps = 0;
  int64_t gaps_with_wait = 0;
  int64_t waited_ns = 0;
  // Gaps and gaps with a wait per loop position (the functions before and after the gap).
  // A loop step has several gaps (between launches, between steps) and a consumer waits in
  // only one of them, so recurrence is judged at the position where the waits happen.
  std::map<std::pair<int32_t, int32_t>, std::pair<int64_t, int64_t>> by_position;

  // Waits that come back step after step: at least 10, in at least a fifth of the gaps at
  // the loop position where most of them happen.
  bool recurrent() const {
    for (const auto& [pos, n] : by_position) {
      if (n.second >= 10 && n.second * 5 >= n.first) return true;
    }
    return false;
  }
};

class Analyzer {
 public:
  Analyzer(TraceData& data, const ExplainOptions& opts) : ctx_{data, opts, {}, false} {}

  std::vector<Chain> run() {
    TraceData& d = ctx_.data;
    for (size_t t = 0; t < d.threads.size(); ++t) {
      const ThreadInfo& th = d.threads[t];
      if (ctx_.opts.pid && th.pid != *ctx_.opts.pid) continue;
      const Range r = d.thread_calls[t];
      if (r.size() == 0) continue;
      ThreadCalls tc;
      tc.thread = static_cast<int32_t>(t);
      for (size_t i = r.begin; i < r.end; ++i) {
        const Call& c = d.calls[i];
        if (!c.top_level) continue;
        tc.calls.push_back(&c);
        const CallClass k = ctx_.fn(c).cls;
        if (k == CallClass::kLaunch || k == CallClass::kCopyAsync || k == CallClass::kCopySync ||
            k == CallClass::kMemset) {
          tc.launches = true;
        }
      }
      if (tc.calls.empty()) continue;
      tc.span_start = tc.calls.front()->ts;
      tc.span_end = tc.span_start;
      for (const Call* c : tc.calls) tc.span_end = std::max(tc.span_end, c->end());
      if (tc.span() <= 0) continue;
      analyze_thread(tc);
    }
    rank_chains(out_);
    return std::move(out_);
  }

 private:
  void analyze_thread(const ThreadCalls& tc) {
    TraceData& d = ctx_.data;
    const ExplainOptions& o = ctx_.opts;
    std::vector<Chain> local;

    // Whole-span decomposition, call by call and gap by gap, and the outliers on the way.
    Decomposition all;
    GapWaits waits;
    Decomposition gap_waits;  // only the gaps' time, for the data-loader finding
    std::map<int32_t, std::vector<int64_t>> durs_by_fn;
    std::vector<int64_t> gaps;
    size_t cursor = d.thread_states[static_cast<size_t>(tc.thread)].begin;
    for (size_t i = 0; i < tc.calls.size(); ++i) {
      const Call& c = *tc.calls[i];
      durs_by_fn[c.fn].push_back(c.dur);
      decompose_into(d, tc.thread, c.ts, c.end(), true, all, &cursor);
      if (i + 1 < tc.calls.size()) {
        const Call& n = *tc.calls[i + 1];
        const int64_t g = n.ts - c.end();
        if (g <= 0) continue;
        gaps.push_back(g);
        const size_t at = cursor;
        IntervalTotals t = decompose_into(d, tc.thread, c.end(), n.ts, false, all, &cursor);
        ++waits.gaps;
        auto& at_position = waits.by_position[{c.fn, n.fn}];
        ++at_position.first;
        if (t.waited_on_others_ns > 0) {
          ++at_position.second;
          ++waits.gaps_with_wait;
          waits.waited_ns += t.waited_on_others_ns;
          size_t again = at;
          decompose_into(d, tc.thread, c.end(), n.ts, false, gap_waits, &again);
        }
      }
    }
    all.sort_shares();
    gap_waits.sort_shares();

    // Outlier calls, grouped by (function, category).
    std::map<std::pair<int32_t, std::string>, SlowGroup> slow_calls;
    std::map<int32_t, Baseline> bases;
    for (auto& [fn, durs] : durs_by_fn) bases[fn] = robust_baseline(std::move(durs));
    cursor = d.thread_states[static_cast<size_t>(tc.thread)].begin;
    for (const Call* c : tc.calls) {
      const Baseline& b = bases[c->fn];
      if (!is_outlier(c->dur, b, o.outlier)) continue;
      Slow s;
      s.ts = c->ts;
      s.end = c->end();
      s.excess = c->dur - b.median_ns;
      s.call_id = c->id;
      Decomposition sd;
      decompose_into(d, tc.thread, c->ts, c->end(), true, sd, &cursor);
      std::string category;
      int32_t culprit = -1;
      classify(d, sd, false, tc.thread, category, culprit);
      SlowGroup& g = slow_calls[{c->fn, category}];
      g.category = category;
      g.add(s, std::move(sd), culprit);
    }
    for (auto& [key, g] : slow_calls) {
      local.push_back(outlier_chain(ctx_, tc, "slow_calls",
                                    d.functions[static_cast<size_t>(key.first)].base,
                                    bases[key.first], g));
    }

    // Outlier gaps of a thread that feeds the GPU. A loop has gaps of very different but
    // regular lengths (microseconds between two launches, milliseconds of host work between
    // steps), so a gap is compared with the gaps at the same position in the loop: between
    // the same pair of functions.
    if (tc.launches && gaps.size() >= static_cast<size_t>(o.outlier.min_samples)) {
      std::map<std::pair<int32_t, int32_t>, std::vector<int64_t>> by_position;
      for (size_t i = 0; i + 1 < tc.calls.size(); ++i) {
        const int64_t g = tc.calls[i + 1]->ts - tc.calls[i]->end();
        if (g > 0) by_position[{tc.calls[i]->fn, tc.calls[i + 1]->fn}].push_back(g);
      }
      std::map<std::pair<int32_t, int32_t>, Baseline> gap_bases;
      for (auto& [pos, v] : by_position) gap_bases[pos] = robust_baseline(std::move(v));
      std::map<std::string, SlowGroup> slow_gaps;
      std::map<std::string, Baseline> group_base;  // baseline of each group's worst gap
      cursor = d.thread_states[static_cast<size_t>(tc.thread)].begin;
      for (size_t i = 0; i + 1 < tc.calls.size(); ++i) {
        const Call& c = *tc.calls[i];
        const Call& n = *tc.calls[i + 1];
        const int64_t g = n.ts - c.end();
        const Baseline& gb = gap_bases[{c.fn, n.fn}];
        if (g <= 0 || !is_outlier(g, gb, o.outlier)) continue;
        Slow s;
        s.ts = c.end();
        s.end = n.ts;
        s.excess = g - gb.median_ns;
        s.call_id = n.id;
        s.prev_call_id = c.id;
        Decomposition sd;
        decompose_into(d, tc.thread, s.ts, s.end, false, sd, &cursor);
        std::string category;
        int32_t culprit = -1;
        classify(d, sd, true, tc.thread, category, culprit);
        SlowGroup& group = slow_gaps[category];
        group.category = category;
        if (s.excess > group.worst_excess) group_base[category] = gb;
        group.add(s, std::move(sd), culprit);
      }
      for (auto& [cat, g] : slow_gaps) {
        local.push_back(outlier_chain(ctx_, tc, "gpu_gaps", "", group_base[cat], g));
      }
    }

    // Thread-level findings over the whole active span, then pipeline patterns.
    const detail::ThreadFacts facts{
        tc, all, gap_waits, waits.gaps, waits.gaps_with_wait, waits.waited_ns, waits.recurrent()};
    thread_findings(facts, local);
    for (const auto& detector : patterns_) detector->detect(ctx_, facts, local);

    for (Chain& c : local) out_.push_back(std::move(c));
  }

  // Folds outlier chains into the thread-level chain that already explains them (same
  // thread, compatible category): one finding per cause, with the worst calls as evidence.
  static void absorb(Chain& into, std::vector<Chain>& local,
                     const std::vector<std::string>& categories, bool gaps_only) {
    std::vector<std::string> outliers;
    for (auto it = local.begin(); it != local.end();) {
      const bool match =
          (it->kind == "slow_calls" || it->kind == "gpu_gaps") &&
          (!gaps_only || it->kind == "gpu_gaps") &&
          std::find(categories.begin(), categories.end(), it->category) != categories.end();
      if (!match) {
        ++it;
        continue;
      }
      std::string item =
          std::to_string(it->occurrences) + " " +
          (it->kind == "gpu_gaps" ? std::string("host gap") : it->function + " call") +
          (it->occurrences == 1 ? "" : "s");
      if (it->baseline) {
        item += " (p50 " + format_duration(it->baseline->median_ns) + " -> max " +
                format_duration(it->observed_max_ns) + ")";
      }
      outliers.push_back(std::move(item));
      for (const EvidenceRef& e : it->evidence) {
        if (e.table == "cuda_call" && into.evidence.size() < 12) into.evidence.push_back(e);
      }
      it = local.erase(it);
    }
    if (!outliers.empty()) {
      into.explanation += " The same cause explains these outliers against their baselines: ";
      for (size_t i = 0; i < outliers.size(); ++i) {
        into.explanation += (i ? ", " : "") + outliers[i];
      }
      into.explanation += ".";
    }
  }

  // Thread-level findings over the whole active span, detector by detector in order. A
  // detector that claims the thread's waits (peer_wait, data_loader) ends the list: the same
  // time is not reported again as a lock or I/O finding. Each finding absorbs the outlier
  // chains of the thread that its cause explains.
  void thread_findings(const detail::ThreadFacts& facts, std::vector<Chain>& local) {
    for (const auto& detector : findings_) {
      std::vector<Chain> found;
      const bool claims = detector->detect(ctx_, facts, found);
      for (Chain& c : found) {
        const std::string cat = c.category;
        if (cat == "peer_wait" || cat == "data_loader") {
          absorb(c, local, {"lock_wait", "blocked_wait"}, true);
        } else {
          absorb(c, local, {cat}, false);
        }
        local.push_back(std::move(c));
      }
      if (claims) return;
    }
  }

  Context ctx_;
  std::vector<Chain> out_;
  std::vector<std::unique_ptr<detail::Detector>> findings_ = [] {
    std::vector<std::unique_ptr<detail::Detector>> v;
    v.push_back(detail::make_cpu_contention_detector());
    v.push_back(detail::make_cpu_throttling_detector());
    v.push_back(detail::make_gil_wait_detector());
    v.push_back(detail::make_peer_wait_detector());
    v.push_back(detail::make_data_loader_detector());
    v.push_back(detail::make_blocked_io_detector());
    v.push_back(detail::make_lock_wait_detector());
    return v;
  }();
  std::vector<std::unique_ptr<detail::Detector>> patterns_ = [] {
    std::vector<std::unique_ptr<detail::Detector>> v;
    v.push_back(detail::make_host_sync_detector());
    v.push_back(detail::make_allocator_churn_detector());
    v.push_back(detail::make_pageable_copy_detector());
    v.push_back(detail::make_phase_shift_detector());
    return v;
  }();
};

int severity_rank(const std::string& s) {
  return s == "high" ? 0 : s == "medium" ? 1 : 2;
}

}  // namespace

void rank_chains(std::vector<Chain>& chains) {
  // Severity first: a low-severity chain (e.g. calls that waited for a busy GPU) can cover
  // more time than the high one that names the host's problem, and must not hide it.
  std::stable_sort(chains.begin(), chains.end(), [](const Chain& a, const Chain& b) {
    const int sa = severity_rank(a.severity), sb = severity_rank(b.severity);
    if (sa != sb) return sa < sb;
    if (a.impact_ns != b.impact_ns) return a.impact_ns > b.impact_ns;
    if (a.category != b.category) return a.category < b.category;
    if (a.subject.tid != b.subject.tid) return a.subject.tid < b.subject.tid;
    if (a.function != b.function) return a.function < b.function;
    const int64_t ea = a.evidence.empty() ? 0 : a.evidence[0].id;
    const int64_t eb = b.evidence.empty() ? 0 : b.evidence[0].id;
    return ea < eb;
  });
  for (size_t i = 0; i < chains.size(); ++i) chains[i].id = static_cast<int64_t>(i + 1);
}

std::vector<Chain> filter_chains(const std::vector<Chain>& chains, const ExplainOptions& opts) {
  std::vector<Chain> out;
  for (const Chain& c : chains) {
    if (opts.pid && c.subject.pid != *opts.pid) continue;
    if (opts.since_ns && c.window_end_ns < *opts.since_ns) continue;
    if (opts.until_ns && c.window_start_ns >= *opts.until_ns) continue;
    out.push_back(c);
    if (opts.top > 0 && out.size() >= opts.top) break;
  }
  return out;
}

Result<std::vector<Chain>> compute_chains(sqlite3* db, const ExplainOptions& opts) {
  LoadOptions lo;
  lo.since_ns = opts.since_ns;
  lo.until_ns = opts.until_ns;
  auto data = TraceData::load(db, lo);
  if (!data.ok()) return data.status();
  Analyzer a(*data, opts);
  std::vector<Chain> chains = a.run();
  if (opts.top > 0 && chains.size() > opts.top) chains.resize(opts.top);
  attach_stacks(db, chains);
  return chains;
}

}  // namespace causeway::analyze

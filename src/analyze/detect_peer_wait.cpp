// peer_wait: a CUDA-issuing thread whose waits between its calls are ended by a thread of
// ANOTHER traced process — two ranks exchanging data every step through pipes, sockets or
// futexes in shared memory. That is not a data loader falling behind: the other process was
// late. So the chain follows into the peer: its own decomposition over exactly the windows
// the subject waited says why it was late — its own CPU work or I/O (the peer is the
// culprit), or waiting for a CPU that another task held (that task is the culprit).
#include <algorithm>
#include <map>

#include "analyze/analyzer.h"
#include "common/terminal_text.h"

namespace causeway::analyze::detail {

bool is_peer_thread(const TraceData& d, int32_t self, int32_t waker) {
  if (waker < 0 || waker == self) return false;
  const ThreadInfo& w = d.threads[static_cast<size_t>(waker)];
  const ThreadInfo& s = d.threads[static_cast<size_t>(self)];
  return w.traced && !w.recorder && !w.gpu_agent && w.pid > 0 && w.pid != s.pid;
}

namespace {

bool is_peer(const TraceData& d, int32_t self, int32_t waker) {
  return is_peer_thread(d, self, waker);
}

bool waits_on_others(const BlockShare& b) {
  return b.cause == BlockCause::kLock || b.cause == BlockCause::kWait;
}

// The worst single wait: its window is where the waker chain starts.
struct Window {
  int64_t state_id = 0;
  int64_t syscall_id = 0;
  int64_t ts = 0;
  int64_t end = 0;
  int32_t waker = -1;
};

class PeerWait : public Detector {
 public:
  const char* category() const override { return "peer_wait"; }
  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override;
};

bool PeerWait::detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) {
  TraceData& d = ctx.data;
  const ThreadCalls& tc = f.tc;
  if (!f.recurrent) return false;
  // Who ended the waits in the gaps: threads of other traced processes against the rest.
  int64_t peer_ns = 0, other_ns = 0;
  std::map<int32_t, int64_t> by_pid;
  for (const BlockShare& b : f.gap_waits.blocked) {
    if (!waits_on_others(b) || b.waker < 0 || b.waker == tc.thread) continue;
    if (is_peer(d, tc.thread, b.waker)) {
      peer_ns += b.ns;
      by_pid[d.threads[static_cast<size_t>(b.waker)].pid] += b.ns;
    } else {
      other_ns += b.ns;
    }
  }
  if (peer_ns == 0 || peer_ns <= other_ns) return false;
  int32_t peer_pid = 0;
  int64_t best = -1;
  for (const auto& [pid, ns] : by_pid) {
    if (ns > best) {
      best = ns;
      peer_pid = pid;
    }
  }

  // Every wait of the subject outside its CUDA calls that a thread of that process ended
  // (at most 20000, in time order): the subject's side, and the peer's own timeline over
  // exactly that window.
  Decomposition mine, theirs;
  std::map<int32_t, int64_t> peer_threads;  // waker thread -> window ns it ended
  Window worst;
  int64_t windows = 0, waited = 0;
  const Range sr = d.thread_states[static_cast<size_t>(tc.thread)];
  size_t call = 0;
  for (size_t i = sr.begin; i < sr.end && windows < 20000; ++i) {
    const StateRow& r = d.states[i];
    if (r.ts < tc.span_start || r.ts >= tc.span_end || r.dur <= 0) continue;
    if (r.state == kRunning || r.state == kRunnable) continue;
    if (!is_peer(d, tc.thread, r.waker) ||
        d.threads[static_cast<size_t>(r.waker)].pid != peer_pid) {
      continue;
    }
    while (call < tc.calls.size() && tc.calls[call]->end() <= r.ts) ++call;
    if (call < tc.calls.size() && tc.calls[call]->ts <= r.ts) continue;  // inside a call
    const int64_t end = std::min(r.end(), tc.span_end);
    decompose_into(d, tc.thread, r.ts, end, false, mine);
    decompose_into(d, r.waker, r.ts, end, false, theirs);
    peer_threads[r.waker] += end - r.ts;
    waited += end - r.ts;
    ++windows;
    if (end - r.ts > worst.end - worst.ts) {
      worst = {r.id, r.syscall_id, r.ts, end, r.waker};
    }
  }
  const int64_t span = tc.span();
  if (windows == 0 || waited < ctx.opts.min_impact_ns ||
      static_cast<double>(waited) < ctx.opts.min_share * static_cast<double>(span)) {
    return false;
  }
  mine.sort_shares();
  theirs.sort_shares();
  int32_t peer = worst.waker;
  best = -1;
  for (const auto& [t, ns] : peer_threads) {
    if (ns > best) {
      best = ns;
      peer = t;
    }
  }

  // What the peer did over those windows, by its dominant activity.
  const int64_t io = theirs.blocked_by(BlockCause::kIo);
  const int64_t waiting = theirs.blocked_ns - io;
  struct Part {
    const char* what;
    int64_t ns;
  };
  const Part parts[] = {{"runnable", theirs.runnable_ns},
                        {"on_cpu", theirs.on_cpu_ns},
                        {"io", io},
                        {"waiting", waiting},
                        {"gpu", theirs.gpu_wait_ns},
                        {"untraced", theirs.unaccounted_ns}};
  const Part* top = &parts[0];
  for (const Part& p : parts) {
    if (p.ns > top->ns) top = &p;
  }
  const std::string dominant = top->what;
  const std::string of_waits = percent(static_cast<double>(top->ns) / static_cast<double>(waited));
  const std::string peer_name = ctx.culprit_phrase(peer);
  int32_t culprit = -1;
  std::string why;
  if (dominant == "runnable") {
    culprit = runnable_culprit(d, theirs);
    if (culprit >= 0) {
      why = "which was runnable behind " + ctx.culprit_phrase(culprit) + " for " + of_waits +
            " of those waits";
    } else if (theirs.runnable_idle_ns() * 2 >= theirs.runnable_ns) {
      why = "which was runnable with its CPU idle (wakeup latency or throttling) for " + of_waits +
            " of those waits";
    } else {
      why = "which was runnable, waiting for a CPU, for " + of_waits + " of those waits";
    }
  } else if (dominant == "on_cpu") {
    culprit = peer;
    why = "which was busy on CPU with its own work for " + of_waits + " of those waits";
  } else if (dominant == "io") {
    culprit = peer;
    why = "which was blocked on I/O for " + of_waits + " of those waits";
  } else if (dominant == "waiting") {
    culprit = peer;
    why = "which was itself blocked for " + of_waits + " of those waits";
  } else if (dominant == "gpu") {
    culprit = peer;
    why = "which was waiting for its GPU for " + of_waits + " of those waits";
    // Ranks of one job wait for their GPUs alike: what made the peer late happened before the
    // window, in the part of its step it spends otherwise. Over the whole span, if the peer
    // was runnable longer than this thread by more than it did anything else longer, the task
    // that held its CPU is the cause.
    Decomposition whole = decompose(d, peer, tc.span_start, tc.span_end, false);
    const int64_t extra_runnable = whole.runnable_ns - f.all.runnable_ns;
    const int64_t extra_other =
        std::max({whole.on_cpu_ns - f.all.on_cpu_ns, whole.blocked_ns - f.all.blocked_ns,
                  whole.gpu_wait_ns - f.all.gpu_wait_ns});
    const int32_t holder = runnable_culprit(d, whole);
    if (holder >= 0 && extra_runnable > extra_other && extra_runnable * 10 >= waited) {
      culprit = holder;
      why += "; over its active span it was runnable " + format_duration(extra_runnable) +
             " longer than " + ctx.who(tc.thread) + ", behind " + ctx.culprit_phrase(holder) +
             " most";
    }
  } else {
    why = "which has no scheduling data for " + of_waits + " of those waits";
  }

  Chain c;
  c.kind = "thread";
  c.category = "peer_wait";
  c.subject = ctx.task(tc.thread);
  if (culprit >= 0) c.culprit = ctx.task(culprit);
  c.impact_ns = waited;
  c.occurrences = windows;
  c.window_start_ns = tc.span_start;
  c.window_end_ns = tc.span_end;
  ctx.fill_breakdown(c, mine);
  const std::string who = ctx.who(tc.thread);
  const double share = static_cast<double>(waited) / static_cast<double>(span);
  const std::string process = ctx.task(peer).process;
  c.summary = who + " waited " + percent(share) + " of its " + format_duration(span) +
              " active span (" + format_duration(waited) + ", " + std::to_string(windows) +
              " waits) for " + peer_name + ", another traced process, " + why;
  c.explanation =
      "Between CUDA calls " + who + " blocked " + std::to_string(windows) + " times, " +
      format_duration(waited) + " in total, until a thread of another traced process" +
      (process.empty() ? "" : " (" + process + ", pid " + std::to_string(peer_pid) + ")") +
      " woke it: the two exchange data (a pipe, a socket or shared memory), so this thread "
      "waits for its peer, not for a data loader of its own. Over exactly those waits the "
      "peer's time went to: " +
      breakdown_sentence(ctx, theirs) + ".";
  std::vector<WakerHop> hops =
      waker_chain(d, tc.thread, worst.waker, worst.ts, worst.end, ctx.opts.max_waker_depth);
  if (!hops.empty()) {
    c.explanation += " Worst wait:";
    for (const WakerHop& h : hops) {
      c.explanation +=
          (h.depth == 1 ? " " : "; in turn, ") + ctx.culprit_phrase(h.thread) + " " + h.detail;
    }
    c.explanation += ".";
  }
  const std::string me = quoted_name(ctx.task(tc.thread).comm);
  if (dominant == "runnable" && culprit >= 0) {
    c.recommendation = "The peer " + peer_name + " was slowed by " + ctx.culprit_phrase(culprit) +
                       " taking its CPU: keep that task off the peer's cores (taskset -c / a "
                       "cpuset cgroup) or lower its priority (nice -n 19, SCHED_IDLE); " +
                       me + " then waits only for the peer's own work.";
  } else if (dominant == "runnable") {
    c.recommendation = "The peer " + peer_name +
                       " was mostly waiting for a CPU: give it cores of its own, and check "
                       "CPU quotas (cgroup cpu.max) if its CPU sat idle.";
  } else if (dominant == "on_cpu" || dominant == "gpu") {
    c.recommendation = "The peer " + peer_name + " was busy with its own work while " + me +
                       " waited: balance the work between the processes, or overlap the "
                       "exchange with computation (post the receive early, double-buffer).";
  } else if (dominant == "io") {
    c.recommendation = "The peer " + peer_name + " was blocked on I/O while " + me +
                       " waited: take that I/O off its critical path (prefetch, a background "
                       "thread, asynchronous I/O).";
  } else {
    c.recommendation = "Follow the peer " + peer_name + ": its own chains (explain --pid " +
                       std::to_string(peer_pid) +
                       ") say what it waited for; overlap the exchange with computation.";
  }
  c.evidence.push_back({"thread_state", worst.state_id, worst.ts, "waiting for the peer"});
  if (worst.syscall_id) c.evidence.push_back({"syscall", worst.syscall_id, 0, "blocking syscall"});
  if (dominant == "runnable") {
    for (const PreemptShare& p : theirs.preempters) {
      if (culprit >= 0 && p.thread != culprit) continue;
      c.evidence.push_back({"thread_state", p.largest_state_id, p.largest_ts, "peer runnable"});
      if (p.largest_slice_id) {
        c.evidence.push_back(
            {"cpu_slice", p.largest_slice_id, p.largest_slice_ts, "held the peer's CPU"});
      }
      break;
    }
  }
  ctx.add_waker_chain(c, hops);
  ctx.finish(c, span);
  out.push_back(std::move(c));
  return true;
}

}  // namespace

std::unique_ptr<Detector> make_peer_wait_detector() {
  return std::make_unique<PeerWait>();
}

}  // namespace causeway::analyze::detail

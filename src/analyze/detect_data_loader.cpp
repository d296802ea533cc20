// data_loader: between its CUDA calls the thread keeps waiting, step after step, for other
// threads of its process that produce its input (they read and decode while it waits), and
// those waits are hand-offs (a condition or queue the producers signal), not contention for a
// lock the producers hold while doing something else (lock_wait).
#include <set>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {

namespace {

bool is_futex(const std::string& reason) {
  return reason == "futex" || reason == "futex_waitv";
}

// The syscall name of a blocked state, or "" when unknown.
std::string state_syscall(TraceData& d, const StateRow& r) {
  if (r.syscall_nr >= 0) return d.syscall_name(r.syscall_nr);
  if (auto sc = d.syscall(r.syscall_id)) return sc->name;
  return "";
}

// The futex word a blocked state waited on, when the state is a futex wait whose syscall row
// recorded the address.
std::optional<int64_t> futex_address(TraceData& d, const StateRow& r) {
  if (r.syscall_id <= 0 || !is_futex(state_syscall(d, r))) return std::nullopt;
  auto sc = d.syscall(r.syscall_id);
  if (!sc) return std::nullopt;
  return sc->addr;
}

// Whether a blocked state is a futex wait to acquire a mutex, by its operation: glibc's mutexes
// (pthread_mutex_lock, std::mutex) wait with FUTEX_WAIT or, priority-inheriting, FUTEX_LOCK_PI,
// while its condition variables and semaphores (the hand-off of a producer/consumer queue,
// CPython's locks) wait with FUTEX_WAIT_BITSET. Other runtimes may use either: this is a
// hint that a wait was contention, never the only evidence of a hand-off.
bool futex_mutex_wait(TraceData& d, const StateRow& r) {
  if (r.syscall_id <= 0 || r.syscall_nr != 202) return false;
  auto sc = d.syscall(r.syscall_id);
  if (!sc || !sc->op) return false;
  const int64_t cmd = *sc->op & 0x7f;  // without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
  return cmd == 0 /* FUTEX_WAIT */ || cmd == 6 /* FUTEX_LOCK_PI */ || cmd == 13 /* LOCK_PI2 */;
}

// The futex words `thread` itself blocked on during [from, to): the locks it queued for.
// Bounded to the first 5000 waits (each costs a syscall row lookup).
std::set<int64_t> futex_wait_addresses(TraceData& d, int32_t thread, int64_t from, int64_t to) {
  std::set<int64_t> out;
  const Range r = d.thread_states[static_cast<size_t>(thread)];
  int looked_up = 0;
  for (size_t i = d.first_state_after(thread, from); i < r.end && looked_up < 5000; ++i) {
    const StateRow& s = d.states[i];
    if (s.ts >= to) break;
    if (s.state == kRunning || s.state == kRunnable) continue;
    ++looked_up;
    if (auto addr = futex_address(d, s)) out.insert(*addr);
  }
  return out;
}

// How the consumer's waits on its producers split (ns of the consumer's blocked time).
struct HandOff {
  int64_t handoff_ns = 0;    // on a condition/queue/pipe the producer signals but never waits on
  int64_t contended_ns = 0;  // on a futex word the producer itself also waited on, or a mutex
                             // acquisition (futex_mutex_wait): a shared lock
};

bool is_output_syscall(const std::string& n) {
  return n == "write" || n == "pwrite64" || n == "writev" || n == "pwritev" || n == "pwritev2" ||
         n == "fsync" || n == "fdatasync" || n == "sync_file_range" || n == "sync" ||
         n == "syncfs" || n == "msync";
}

// What the producers did while the consumer waited on them.
struct ProducerWork {
  int64_t producing_ns = 0;  // on CPU (decoding), waiting for a CPU, or blocked reading input
  int64_t holding_ns = 0;    // blocked flushing/writing output, on locks, waits or sleeps
};

ProducerWork producer_work(const Decomposition& p) {
  ProducerWork w;
  w.producing_ns = p.on_cpu_ns + p.runnable_ns;
  for (const BlockShare& b : p.blocked) {
    if (b.cause == BlockCause::kGpu) continue;
    if (b.cause == BlockCause::kIo && !is_output_syscall(b.reason)) {
      w.producing_ns += b.ns;
    } else {
      w.holding_ns += b.ns;
    }
  }
  return w;
}

class DataLoaderDetector final : public Detector {
 public:
  const char* category() const override { return "data_loader"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const ExplainOptions& o = ctx.opts;
    const int64_t span = f.tc.span();
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    // Data loader: the thread keeps waiting, between its CUDA calls, for other threads.
    if (!f.recurrent || !significant(ctx, f.waited_ns, span)) return false;
    {
      // The producers: wakers of those waits, by time waited.
      std::map<int32_t, std::pair<int64_t, const BlockShare*>> producers;
      for (const BlockShare& b : f.gap_waits.blocked) {
        if ((b.cause != BlockCause::kLock && b.cause != BlockCause::kWait) || b.waker < 0 ||
            b.waker == f.tc.thread || detail::is_peer_thread(ctx.data, f.tc.thread, b.waker)) {
          continue;  // a peer process is not this thread's data loader (peer_wait)
        }
        auto& p = producers[b.waker];
        p.first += b.ns;
        if (!p.second || b.largest_ns > p.second->largest_ns) p.second = &b;
      }
      std::vector<std::pair<int64_t, int32_t>> ranked;
      for (const auto& [t, p] : producers) ranked.push_back({p.first, t});
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      // What the producers were doing while this thread waited on them, over all waits, and
      // whether each wait was a hand-off (a condition the producer signals) or contention (a
      // lock the producer itself also waits for). Every wait of this thread outside its CUDA
      // calls that a producer ended (at most 20000, in time order), each against that
      // producer's own timeline.
      Decomposition prod;
      HandOff split;
      if (!ranked.empty()) {
        TraceData& d = ctx.data;
        std::map<int32_t, std::set<int64_t>> producer_locks;
        for (const auto& [t, p] : producers) {
          producer_locks[t] = futex_wait_addresses(d, t, f.tc.span_start, f.tc.span_end);
        }
        const Range sr = d.thread_states[static_cast<size_t>(f.tc.thread)];
        size_t call = 0, windows = 0;
        for (size_t i = sr.begin; i < sr.end && windows < 20000; ++i) {
          const StateRow& r = d.states[i];
          if (r.ts < f.tc.span_start || r.ts >= f.tc.span_end) continue;
          if ((r.state != kSleeping && r.state != kOther) || !producers.count(r.waker)) continue;
          while (call < f.tc.calls.size() && f.tc.calls[call]->end() <= r.ts) ++call;
          if (call < f.tc.calls.size() && f.tc.calls[call]->ts <= r.ts) continue;  // inside a call
          decompose_into(d, r.waker, r.ts, r.end(), false, prod);
          // A producer that never waited on a futex cannot be contending: skip the lookup.
          const std::set<int64_t>& locks = producer_locks[r.waker];
          const std::optional<int64_t> addr = locks.empty() ? std::nullopt : futex_address(d, r);
          if ((addr && locks.count(*addr)) || futex_mutex_wait(d, r)) {
            split.contended_ns += r.dur;
          } else {
            split.handoff_ns += r.dur;
          }
          ++windows;
        }
      }
      prod.sort_shares();
      // A consumer fed by producers that read and decode is a data loader; a thread that
      // queues for a lock its wakers also queue for, or whose wakers spend the wait flushing
      // output or waiting themselves, is lock contention (reported below as lock_wait).
      const ProducerWork work = producer_work(prod);
      // The waits its producers ended (a peer process's are not loader time).
      int64_t loader_ns = 0;
      for (const auto& r : ranked) loader_ns += r.first;
      if (!ranked.empty() && split.handoff_ns > split.contended_ns &&
          work.producing_ns >= work.holding_ns && significant(ctx, loader_ns, span)) {
        Chain c = thread_chain(ctx, f, "data_loader", loader_ns, &f.gap_waits);
        c.occurrences = f.gaps_with_wait;
        const int32_t top = ranked[0].second;
        c.culprit = ctx.task(top);
        const BlockShare* rep = producers[top].second;
        std::vector<WakerHop> hops = waker_chain(ctx.data, f.tc.thread, top, rep->largest_ts,
                                                 rep->largest_end, o.max_waker_depth);
        const double share = static_cast<double>(loader_ns) / static_cast<double>(span);
        std::string names;
        for (size_t i = 0; i < ranked.size() && i < 3; ++i) {
          names += (i ? ", " : "") + ctx.culprit_phrase(ranked[i].second) + " " +
                   format_duration(ranked[i].first);
        }
        if (ranked.size() > 3) names += " and " + std::to_string(ranked.size() - 3) + " more";
        c.summary = who + " waited for its input for " + format_duration(loader_ns) + " (" +
                    percent(share) + " of its " + span_text + ") in " +
                    std::to_string(f.gaps_with_wait) + " of " + std::to_string(f.gaps) +
                    " gaps between CUDA calls; the data loader cannot keep up";
        c.explanation =
            "Between CUDA calls " + who +
            " blocked, waiting to be woken by other "
            "threads, in " +
            std::to_string(f.gaps_with_wait) + " of its " + std::to_string(f.gaps) + " gaps, " +
            format_duration(loader_ns) +
            " in total, while the GPU had nothing new to do. Woken by: " + names +
            ". While it waited, the producers' time went to: " + breakdown_sentence(ctx, prod) +
            ".";
        if (!hops.empty()) {
          c.explanation += " Worst wait:";
          for (const WakerHop& h : hops) {
            c.explanation += (h.depth == 1 ? " " : "; in turn, ") + ctx.culprit_phrase(h.thread) +
                             " " + h.detail;
          }
          c.explanation += ".";
        }
        const int64_t prod_io = prod.blocked_by(BlockCause::kIo);
        if (prod.runnable_ns > prod_io && prod.runnable_ns > prod.on_cpu_ns) {
          c.recommendation =
              "The loaders themselves mostly waited for a CPU: give them cores of their own "
              "(fewer competing processes, CPU affinity), then add workers or prefetch if they "
              "still fall behind.";
        } else if (prod_io >= prod.on_cpu_ns && prod_io > 0) {
          c.recommendation =
              "The loaders are disk-bound: add loader workers and prefetch deeper "
              "(DataLoader num_workers, prefetch_factor), cache or pre-shard the "
              "dataset in memory or on faster storage, and read larger sequential "
              "chunks.";
        } else {
          c.recommendation =
              "The loaders are CPU-bound: add loader workers (DataLoader "
              "num_workers) on idle cores, decode on the GPU (DALI, nvJPEG) or "
              "pre-process the dataset offline, and prefetch more batches ahead.";
        }
        c.evidence.push_back(
            {"thread_state", rep->largest_state_id, rep->largest_ts, "waiting for the loader"});
        if (rep->largest_syscall_id) {
          c.evidence.push_back({"syscall", rep->largest_syscall_id, 0, "blocking syscall"});
        }
        ctx.add_waker_chain(c, hops);
        ctx.finish(c, span);
        out.push_back(std::move(c));
        return true;  // the waits are explained; no separate lock finding for the same time
      }
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_data_loader_detector() {
  return std::make_unique<DataLoaderDetector>();
}

}  // namespace causeway::analyze::detail

// Pipeline-level patterns, seen across many calls of one thread rather than in one outlier.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {
namespace {

bool is_feed(CallClass k) {
  return k == CallClass::kLaunch || k == CallClass::kCopyAsync || k == CallClass::kMemset;
}

// Synchronize calls and device-to-host copies: a readback waits for the kernels before it
// (a synchronous copy always; an async one into pageable memory too), and an async readback
// into pinned memory is followed by the synchronize that makes it visible.
bool is_sync_point(const Context& ctx, const Call& c) {
  const FunctionInfo& f = ctx.fn(c);
  if (f.cls == CallClass::kSync) return true;
  if (f.cls != CallClass::kCopySync && f.cls != CallClass::kCopyAsync) return false;
  return c.copy_kind == 2 || f.base.find("DtoH") != std::string::npos;
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

}  // namespace

void detect_host_sync(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out) {
  // A step sync is a run of consecutive sync points (e.g. a DtoH cudaMemcpy then a
  // cudaStreamSynchronize) preceded by GPU work issued since the previous one.
  struct Group {
    size_t first = 0, last = 0;  // indexes into tc.calls
    int64_t wait_ns = 0;
    int64_t feeds_before = 0;
    int64_t d2h_bytes = 0;
    bool readback = false;  // a device-to-host copy since the previous sync, or in this one
  };
  std::vector<Group> groups;
  int64_t feeds = 0;
  bool pending_readback = false;
  bool in_group = false;
  for (size_t i = 0; i < tc.calls.size(); ++i) {
    const Call& c = *tc.calls[i];
    const bool d2h = c.copy_kind == 2 || ctx.fn(c).base.find("DtoH") != std::string::npos;
    if (is_sync_point(ctx, c)) {
      if (!in_group) {
        groups.push_back({i, i, 0, feeds, 0, pending_readback});
        in_group = true;
        feeds = 0;
        pending_readback = false;
      }
      Group& g = groups.back();
      g.last = i;
      g.wait_ns += c.dur;
      if (d2h) {
        g.readback = true;
        if (c.bytes > 0) g.d2h_bytes += c.bytes;
      }
    } else {
      in_group = false;
      if (is_feed(ctx.fn(c).cls) || ctx.fn(c).cls == CallClass::kCopySync) ++feeds;
      if (d2h && ctx.fn(c).cls == CallClass::kCopyAsync) {
        pending_readback = true;
      }
    }
  }
  // Per-step syncs read results back to the host after GPU work was issued: a sync alone (a
  // training step waiting for its own kernels) is not this pattern.
  std::vector<Group> steps;
  for (const Group& g : groups) {
    if (g.feeds_before > 0 && g.readback) steps.push_back(g);
  }
  if (steps.size() < 20) return;
  int64_t lost = 0;
  std::vector<int64_t> waits, hosts, feeds_per_step, bytes;
  size_t worst = 0;
  int64_t worst_lost = -1;
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    // After a sync the GPU has nothing queued until the host issues its next work: that
    // stretch (sync end -> next feeding call) is GPU idle time caused by the sync.
    const int64_t sync_end = tc.calls[steps[i].last]->end();
    int64_t next_feed = tc.calls[steps[i + 1].first]->ts;
    for (size_t k = steps[i].last + 1; k < steps[i + 1].first; ++k) {
      if (is_feed(ctx.fn(*tc.calls[k]).cls) || ctx.fn(*tc.calls[k]).cls == CallClass::kCopySync) {
        next_feed = tc.calls[k]->ts;
        break;
      }
    }
    const int64_t host = next_feed - sync_end;
    const int64_t wait = steps[i + 1].wait_ns;
    // Serialised, a step costs the host's idle-GPU stretch plus the GPU time the host waits
    // for; overlapped, the larger of the two. The wait is a lower bound of that GPU time, so
    // min(host, wait) is what overlap could save at most, from measured intervals only.
    const int64_t l = std::max<int64_t>(0, std::min(host, wait));
    lost += l;
    if (l > worst_lost) {
      worst_lost = l;
      worst = i + 1;
    }
    waits.push_back(wait);
    hosts.push_back(std::max<int64_t>(0, host));
  }
  for (const Group& g : steps) {
    feeds_per_step.push_back(g.feeds_before);
    if (g.d2h_bytes > 0) bytes.push_back(g.d2h_bytes);
  }
  const int64_t span = tc.span();
  if (!significant(ctx, lost, span)) return;

  // Which calls make up the sync, e.g. "cudaMemcpy (DtoH) + cudaStreamSynchronize".
  std::map<std::string, int64_t> parts;
  std::vector<std::string> order;
  for (size_t i = steps[0].first; i <= steps[0].last; ++i) {
    const Call& c = *tc.calls[i];
    std::string name = ctx.fn(c).base + (c.copy_kind == 2 ? " (DtoH)" : "");
    if (!parts.count(name)) order.push_back(name);
    ++parts[name];
  }
  std::string what;
  for (const std::string& n : order) what += (what.empty() ? "" : " + ") + n;

  Decomposition d;
  for (const Group& g : steps) {
    for (size_t i = g.first; i <= g.last; ++i) {
      decompose_into(ctx.data, tc.thread, tc.calls[i]->ts, tc.calls[i]->end(), true, d);
    }
  }
  d.sort_shares();

  Chain c;
  c.kind = "pattern";
  c.category = "host_sync";
  c.subject = ctx.task(tc.thread);
  c.function = ctx.fn(*tc.calls[steps[0].first]).base;
  c.culprit = ctx.task(tc.thread);
  c.impact_ns = lost;
  c.occurrences = static_cast<int64_t>(steps.size());
  c.window_start_ns = tc.calls[steps.front().first]->ts;
  c.window_end_ns = tc.calls[steps.back().last]->end();
  ctx.fill_breakdown(c, d);
  const int64_t mw = median_of(waits), mh = median_of(hosts);
  const double share = static_cast<double>(lost) / static_cast<double>(span);
  const std::string who = ctx.who(tc.thread);
  c.summary = who + " synchronized with the GPU " + std::to_string(steps.size()) +
              " times, once per step (" + what +
              "), serialising host and GPU; overlapping "
              "them would save up to " +
              format_duration(lost) + " (" + percent(share) + " of its active span)";
  c.explanation =
      who + " ends each step with " + what + " after issuing " +
      std::to_string(median_of(feeds_per_step)) + " GPU operations (median)" +
      (bytes.empty() ? ""
                     : ", copying " + bytes_text(median_of(bytes)) + " device-to-host per step") +
      ". Each step the host then waited " + format_duration(mw) +
      " (median) for the GPU, and the drained GPU then had nothing to do for " +
      format_duration(mh) +
      " (median) until the host issued the next step's work. "
      "Across " +
      std::to_string(steps.size()) + " steps the waits total " +
      format_duration(c.gpu_wait_ns + c.blocked_ns + c.on_cpu_ns + c.runnable_ns) +
      "; the time overlap could recover, min(host, GPU) per step, is " + format_duration(lost) +
      ". Inside the syncs: " + breakdown_sentence(ctx, d) + ".";
  c.recommendation =
      "Do not read results back every step: keep them on the GPU and copy "
      "asynchronously (cudaMemcpyAsync into pinned memory plus an event, read "
      "one step later), or synchronize every N steps; in PyTorch avoid .item(), "
      ".cpu() and .tolist() inside the decode loop.";
  for (size_t k : {size_t{0}, size_t{1}, worst}) {
    if (k >= steps.size()) continue;
    for (size_t i = steps[k].first; i <= steps[k].last && c.evidence.size() < 8; ++i) {
      const Call& s = *tc.calls[i];
      c.evidence.push_back(
          {"cuda_call", s.id, s.ts, k == worst ? "sync, largest loss" : "per-step sync"});
    }
  }
  ctx.finish(c, span);
  out.push_back(std::move(c));
}

void detect_allocator_churn(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out) {
  const int64_t span = tc.span();
  const int64_t warm = tc.span_start + span / 10;  // startup allocations are expected
  std::vector<const Call*> hot;
  int64_t allocs = 0, frees = 0, total = 0;
  std::vector<int64_t> sizes;
  std::set<int64_t> deciles;
  for (const Call* c : tc.calls) {
    const CallClass k = ctx.fn(*c).cls;
    if ((k != CallClass::kAlloc && k != CallClass::kFree) || c->ts < warm) continue;
    hot.push_back(c);
    total += c->dur;
    if (k == CallClass::kAlloc) {
      ++allocs;
      if (c->bytes > 0) sizes.push_back(c->bytes);
    } else {
      ++frees;
    }
    deciles.insert((c->ts - tc.span_start) * 10 / std::max<int64_t>(1, span));
  }
  if (allocs + frees < 20 || deciles.size() < 5 || !significant(ctx, total, span)) return;
  Decomposition d;
  for (const Call* c : hot) decompose_into(ctx.data, tc.thread, c->ts, c->end(), true, d);
  d.sort_shares();
  // Time a free spends waiting for queued GPU work is the GPU's (gpu_busy / host_sync explain
  // it), not the allocator's: counting it here would count it twice.
  const int64_t cost = total - d.gpu_wait_ns;
  if (!significant(ctx, cost, span)) return;
  std::vector<int64_t> free_durs;
  for (const Call* c : hot) {
    if (ctx.fn(*c).cls == CallClass::kFree) free_durs.push_back(c->dur);
  }
  Chain c;
  c.kind = "pattern";
  c.category = "allocator_churn";
  c.subject = ctx.task(tc.thread);
  c.culprit = ctx.task(tc.thread);
  c.function = ctx.fn(*hot.front()).base;
  c.impact_ns = cost;
  c.occurrences = allocs + frees;
  c.window_start_ns = hot.front()->ts;
  c.window_end_ns = hot.back()->end();
  ctx.fill_breakdown(c, d);
  const std::string who = ctx.who(tc.thread);
  const double share = static_cast<double>(cost) / static_cast<double>(span);
  c.summary = who + " allocated and freed device memory " + std::to_string(allocs + frees) +
              " times in its hot loop (" + std::to_string(allocs) + " allocations, " +
              std::to_string(frees) + " frees), costing " + format_duration(cost) + " (" +
              percent(share) + " of its active span)" +
              (d.gpu_wait_ns > 0 ? " besides " + format_duration(d.gpu_wait_ns) +
                                       " waiting for the GPU inside them"
                                 : "");
  c.explanation =
      "After start-up " + who + " kept calling the device allocator: " + std::to_string(allocs) +
      " allocations" + (sizes.empty() ? "" : " (median " + bytes_text(median_of(sizes)) + ")") +
      " and " + std::to_string(frees) + " frees" +
      (free_durs.empty() ? "" : " (median " + format_duration(median_of(free_durs)) + ")") +
      ", spread over the whole run, " + format_duration(total) + " in total, of which " +
      format_duration(cost) +
      " allocator cost (the rest waited for the GPU). Inside those calls: " +
      breakdown_sentence(ctx, d) + "." +
      (d.gpu_wait_ns > 0 ? " A device free waits for all queued GPU work (an implicit "
                           "device-wide synchronize), so each one also drains the "
                           "GPU pipeline."
                         : "");
  c.recommendation =
      "Allocate buffers once and reuse them across steps (or use a caching "
      "allocator / cudaMallocAsync with a memory pool); never cudaFree in the hot "
      "path, it synchronizes the device.";
  std::vector<const Call*> worst = hot;
  std::sort(worst.begin(), worst.end(), [](const Call* a, const Call* b) {
    return a->dur != b->dur ? a->dur > b->dur : a->id < b->id;
  });
  for (size_t i = 0; i < worst.size() && i < 6; ++i) {
    c.evidence.push_back({"cuda_call", worst[i]->id, worst[i]->ts, ctx.fn(*worst[i]).base});
  }
  ctx.finish(c, span);
  out.push_back(std::move(c));
}

void detect_pageable_copies(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out) {
  // Pinned host ranges of this process, from its page-locked allocations and registrations.
  const int32_t pid = ctx.data.threads[static_cast<size_t>(tc.thread)].pid;
  if (!ctx.pinned_built) {
    ctx.pinned_built = true;
    for (const Call& c : ctx.data.calls) {
      const CallClass k = ctx.fn(c).cls;
      if ((k != CallClass::kHostAlloc && k != CallClass::kHostRegister) || !c.has_host_ptr ||
          c.bytes <= 0 || c.ret != 0) {
        continue;
      }
      ctx.pinned[ctx.data.threads[static_cast<size_t>(c.thread)].pid].push_back(
          {c.host_ptr, c.host_ptr + static_cast<uint64_t>(c.bytes)});
    }
  }
  static const std::vector<std::pair<uint64_t, uint64_t>> kNone;
  auto found = ctx.pinned.find(pid);
  const auto& pinned = found != ctx.pinned.end() ? found->second : kNone;
  auto is_pinned = [&](uint64_t p) {
    for (const auto& [lo, hi] : pinned) {
      if (p >= lo && p < hi) return true;
    }
    return false;
  };
  std::vector<const Call*> pageable;
  int64_t bytes = 0;
  int64_t impact = 0;
  Decomposition d;
  for (const Call* c : tc.calls) {
    const CallClass k = ctx.fn(*c).cls;
    if ((k != CallClass::kCopySync && k != CallClass::kCopyAsync) || !c->has_host_ptr ||
        c->bytes <= 0 || (c->copy_kind != 1 && c->copy_kind != 2) || is_pinned(c->host_ptr)) {
      continue;
    }
    pageable.push_back(c);
    bytes += c->bytes;
    const IntervalTotals t = decompose_into(ctx.data, tc.thread, c->ts, c->end(), true, d);
    // Staging a pageable buffer is CPU work done by the calling thread (a memcpy through a
    // pinned bounce buffer): the measured on-CPU time inside the copy. Time the copy spent
    // waiting for the GPU is not counted here (a readback's wait belongs to host_sync).
    impact += t.on_cpu_ns;
  }
  const int64_t span = tc.span();
  if (pageable.size() < 10 || bytes < (1 << 20) || !significant(ctx, impact, span)) return;
  d.sort_shares();
  int64_t async = 0;
  for (const Call* c : pageable) async += ctx.fn(*c).cls == CallClass::kCopyAsync;
  Chain c;
  c.kind = "pattern";
  c.category = "pageable_copy";
  c.subject = ctx.task(tc.thread);
  c.culprit = ctx.task(tc.thread);
  c.function = ctx.fn(*pageable.front()).base;
  c.impact_ns = impact;
  c.occurrences = static_cast<int64_t>(pageable.size());
  c.window_start_ns = pageable.front()->ts;
  c.window_end_ns = pageable.back()->end();
  ctx.fill_breakdown(c, d);
  const std::string who = ctx.who(tc.thread);
  const double share = static_cast<double>(impact) / static_cast<double>(span);
  c.summary = who + " made " + std::to_string(pageable.size()) + " host<->device copies (" +
              bytes_text(bytes) + ") from pageable memory, costing the host " +
              format_duration(impact) + " (" + percent(share) + " of its active span)";
  c.explanation = std::to_string(pageable.size()) + " copies by " + who + " (" + bytes_text(bytes) +
                  ", " + std::to_string(async) +
                  " of them cudaMemcpyAsync) used host buffers that are not page-locked: none "
                  "of their host pointers lies in a range from cudaMallocHost/cudaHostAlloc/"
                  "cudaHostRegister. The driver stages such copies through a bounce buffer on "
                  "the calling thread, and an async copy from pageable memory cannot overlap "
                  "GPU work. Inside those copies: " +
                  breakdown_sentence(ctx, d) + ".";
  c.recommendation =
      "Allocate the host buffers page-locked (cudaMallocHost / cudaHostAlloc; "
      "PyTorch DataLoader pin_memory=True) or cudaHostRegister them once, then "
      "use cudaMemcpyAsync so the copies overlap compute.";
  std::vector<const Call*> worst = pageable;
  std::sort(worst.begin(), worst.end(), [](const Call* a, const Call* b) {
    return a->dur != b->dur ? a->dur > b->dur : a->id < b->id;
  });
  for (size_t i = 0; i < worst.size() && i < 6; ++i) {
    c.evidence.push_back({"cuda_call", worst[i]->id, worst[i]->ts, "pageable copy"});
  }
  ctx.finish(c, span);
  out.push_back(std::move(c));
}

void detect_phase_shift(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out) {
  constexpr int kWindows = 10;
  const int64_t span = tc.span();
  std::map<int32_t, std::vector<const Call*>> by_fn;
  for (const Call* c : tc.calls) by_fn[c->fn].push_back(c);
  for (const auto& [fn, calls] : by_fn) {
    if (calls.size() < 40) continue;
    std::vector<std::vector<int64_t>> win(kWindows);
    for (const Call* c : calls) {
      const int64_t w = std::min<int64_t>(kWindows - 1, (c->ts - tc.span_start) * kWindows / span);
      win[static_cast<size_t>(w)].push_back(c->dur);
    }
    std::vector<int64_t> med(kWindows, -1);
    int64_t fast = -1;
    for (int w = 0; w < kWindows; ++w) {
      if (win[w].size() < 8) continue;
      med[w] = median_of(win[w]);
      if (fast < 0 || med[w] < fast) fast = med[w];
    }
    if (fast < 0) continue;
    const int64_t min_step = ctx.opts.outlier.min_excess_ns;
    auto slow_window = [&](int w) {
      return med[w] >= 0 &&
             static_cast<double>(med[w]) >= ctx.opts.outlier.ratio * static_cast<double>(fast) &&
             med[w] - fast >= min_step;
    };
    int nslow = 0, nfast = 0;
    for (int w = 0; w < kWindows; ++w) {
      if (med[w] < 0) continue;
      slow_window(w) ? ++nslow : ++nfast;
    }
    if (nslow == 0 || nfast == 0) continue;
    int64_t impact = 0, slow_n = 0, fast_n = 0;
    Decomposition ds, df;
    int64_t first_slow = -1, last_slow = -1;
    std::vector<const Call*> worst;
    for (const Call* c : calls) {
      const int w = static_cast<int>(
          std::min<int64_t>(kWindows - 1, (c->ts - tc.span_start) * kWindows / span));
      if (med[w] < 0) continue;
      if (slow_window(w)) {
        impact += std::max<int64_t>(0, c->dur - fast);
        ++slow_n;
        if (first_slow < 0) first_slow = c->ts;
        last_slow = c->end();
        decompose_into(ctx.data, tc.thread, c->ts, c->end(), true, ds);
        worst.push_back(c);
      } else {
        ++fast_n;
        decompose_into(ctx.data, tc.thread, c->ts, c->end(), true, df);
      }
    }
    if (!significant(ctx, impact, span) || slow_n == 0 || fast_n == 0) continue;
    ds.sort_shares();
    int64_t slow_med = 0;
    {
      std::vector<int64_t> v;
      for (int w = 0; w < kWindows; ++w) {
        if (slow_window(w)) v.push_back(med[w]);
      }
      slow_med = median_of(v);
    }
    // The component that grew most per call between the phases.
    struct Comp {
      const char* name;
      double slow, fast;
    };
    const double sn = static_cast<double>(slow_n), fnn = static_cast<double>(fast_n);
    const Comp comps[] = {
        {"runnable (waiting for a CPU)", ds.runnable_ns / sn, df.runnable_ns / fnn},
        {"on CPU", ds.on_cpu_ns / sn, df.on_cpu_ns / fnn},
        {"blocked", ds.blocked_ns / sn, df.blocked_ns / fnn},
        {"waiting for the GPU", ds.gpu_wait_ns / sn, df.gpu_wait_ns / fnn},
    };
    const Comp* grew = &comps[0];
    for (const Comp& k : comps) {
      if (k.slow - k.fast > grew->slow - grew->fast) grew = &k;
    }
    const std::string name = ctx.data.functions[static_cast<size_t>(fn)].base;
    Chain c;
    c.kind = "pattern";
    c.category = "phase_shift";
    c.subject = ctx.task(tc.thread);
    c.function = name;
    c.impact_ns = impact;
    c.occurrences = slow_n;
    c.window_start_ns = first_slow;
    c.window_end_ns = last_slow;
    c.baseline = Baseline{fast_n, fast, 0};
    ctx.fill_breakdown(c, ds);
    if (std::string(grew->name).rfind("runnable", 0) == 0) {
      const int32_t holder = runnable_culprit(ctx.data, ds);
      if (holder >= 0) c.culprit = ctx.task(holder);
    }
    const std::string who = ctx.who(tc.thread);
    c.summary =
        who + ": " + name + " p50 was " + format_duration(fast) + " in its fast phase and " +
        format_duration(slow_med) + " between t=" + seconds(first_slow) +
        " and t=" + seconds(last_slow) + " (" +
        ratio(static_cast<double>(slow_med) / static_cast<double>(std::max<int64_t>(1, fast))) +
        ")";
    c.explanation = "The same call on the same thread changed speed within the trace: " +
                    std::to_string(slow_n) + " " + name + " calls in the slow phase (median " +
                    format_duration(slow_med) + ") against " + std::to_string(fast_n) +
                    " in the fast phase (median " + format_duration(fast) + "), " +
                    format_duration(impact) + " lost. Per call, time " + grew->name +
                    " grew from " + format_duration(static_cast<int64_t>(grew->fast)) + " to " +
                    format_duration(static_cast<int64_t>(grew->slow)) +
                    ". In the slow phase: " + breakdown_sentence(ctx, ds) + ".";
    c.recommendation = "Find what changed at t=" + seconds(first_slow) +
                       ": another job starting, a larger batch or sequence length, memory "
                       "pressure. The other chains for this thread name the cause when it is "
                       "on the host; if the GPU time itself grew, compare the kernels of the two "
                       "phases.";
    std::sort(worst.begin(), worst.end(), [](const Call* a, const Call* b) {
      return a->dur != b->dur ? a->dur > b->dur : a->id < b->id;
    });
    for (size_t i = 0; i < worst.size() && i < 5; ++i) {
      c.evidence.push_back({"cuda_call", worst[i]->id, worst[i]->ts, "slow-phase call"});
    }
    ctx.finish(c, span);
    if (c.severity == "high") c.severity = "medium";  // a comparison, not a cause
    out.push_back(std::move(c));
  }
}

}  // namespace causeway::analyze::detail

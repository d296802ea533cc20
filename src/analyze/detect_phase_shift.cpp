// phase_shift: the same function on the same thread changed speed within the trace.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {
namespace {

constexpr int kWindows = 10;

// Which of kWindows equal windows of [start, start + span) `ts` falls in, clamped to the
// windows. In double: times are checked to be within ±2^52 ns on load
// (store::check_event_values), but the index must never leave the array whatever they are.
int window_of(int64_t ts, int64_t start, int64_t span) {
  const double w =
      (static_cast<double>(ts) - static_cast<double>(start)) * kWindows / static_cast<double>(span);
  if (!(w >= 0)) return 0;  // also NaN
  return w >= kWindows - 1 ? kWindows - 1 : static_cast<int>(w);
}

void detect_phase_shift(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out) {
  const int64_t span = tc.span();
  if (span <= 0) return;  // all calls at one instant: no phases to compare
  std::map<int32_t, std::vector<const Call*>> by_fn;
  for (const Call* c : tc.calls) by_fn[c->fn].push_back(c);
  for (const auto& [fn, calls] : by_fn) {
    if (calls.size() < 40) continue;
    std::vector<std::vector<int64_t>> win(kWindows);
    for (const Call* c : calls) {
      win[static_cast<size_t>(window_of(c->ts, tc.span_start, span))].push_back(c->dur);
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
      const int w = window_of(c->ts, tc.span_start, span);
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

class PhaseShift : public Detector {
 public:
  const char* category() const override { return "phase_shift"; }
  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    detect_phase_shift(ctx, f.tc, out);
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_phase_shift_detector() {
  return std::make_unique<PhaseShift>();
}

}  // namespace causeway::analyze::detail

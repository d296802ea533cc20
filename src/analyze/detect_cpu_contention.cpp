// cpu_contention: the CUDA-issuing thread was ready to run but another task held its CPU,
// named from the CPU's own timeline (cpu_slice), with idle time and unknown holders apart.
#include "analyze/analyzer.h"

namespace causeway::analyze::detail {

void add_runnable_evidence(Chain& c, const Decomposition& d) {
  for (size_t i = 0; i < d.preempters.size() && i < 3; ++i) {
    const PreemptShare& p = d.preempters[i];
    c.evidence.push_back({"thread_state", p.largest_state_id, p.largest_ts, "runnable"});
    if (p.largest_slice_id) {
      c.evidence.push_back({"cpu_slice", p.largest_slice_id, p.largest_slice_ts, "held the CPU"});
    }
  }
}

namespace {

class CpuContentionDetector final : public Detector {
 public:
  const char* category() const override { return "cpu_contention"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const int64_t span = f.tc.span();
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    // CPU contention: runnable time, by who held the CPU meanwhile (the recorder's share is
    // its overhead, not contention).
    const int64_t contended = f.all.runnable_ns - runnable_behind_recorder(ctx.data, f.all);
    if (!significant(ctx, contended, span) || quota_throttled(ctx, f)) return false;
    {
      Chain c = thread_chain(ctx, f, "cpu_contention", contended);
      c.occurrences = f.all.runnable_intervals;
      const int32_t top = runnable_culprit(ctx.data, f.all);
      if (top >= 0) c.culprit = ctx.task(top);
      const double share = static_cast<double>(f.all.runnable_ns) / static_cast<double>(span);
      const int64_t idle = f.all.runnable_idle_ns();
      int64_t top_ns = 0;
      for (const PreemptShare& p : f.all.preempters) {
        if (p.thread == top) top_ns += p.ns;
      }
      std::string most;
      bool top_seen = false;  // the CPU's timeline shows it holding the CPU
      for (const PreemptShare& p : f.all.preempters) {
        if (p.thread == top) top_seen = top_seen || p.from_slices;
      }
      if (top >= 0) {
        most = "; " + ctx.culprit_phrase(top) + (top_seen ? " held" : " took") + " its CPU most (" +
               format_duration(top_ns) + ")";
      } else if (idle > 0 && idle * 2 >= f.all.runnable_ns) {
        most = "; its CPU was idle for " + format_duration(idle) +
               " of that (wakeup latency or throttling)";
      }
      c.summary = who + " was runnable but not running for " + format_duration(f.all.runnable_ns) +
                  " (" + percent(share) + " of its " + span_text + ")" + most;
      std::string by;
      int n = 0;
      for (const PreemptShare& p : f.all.preempters) {
        if (n == 3) break;
        by += (n ? "; " : "") + holder_phrase(ctx, p) + " for " + format_duration(p.ns) +
              (p.cpu >= 0 ? " on CPU " + std::to_string(p.cpu) : "") + " (" +
              std::to_string(p.intervals) + (p.intervals == 1 ? " interval" : " intervals") +
              (p.thread >= 0 && !p.from_slices ? ", switched in as it left the CPU)" : ")");
        ++n;
      }
      c.explanation = who + " is the thread that issues CUDA work, yet for " +
                      format_duration(f.all.runnable_ns) + " (" + percent(share) + " of its " +
                      span_text +
                      ") it was ready to run but not running, so the GPU waited on a thread that "
                      "was waiting for a CPU. Who held the CPU it was queued on meanwhile: " +
                      by + ". Over the span: " + breakdown_sentence(ctx, f.all) + ".";
      c.recommendation = recommendation_for(ctx, c.category, f.tc.thread, top, {}, f.all);
      add_runnable_evidence(c, f.all);
      ctx.finish(c, span);
      out.push_back(std::move(c));
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_cpu_contention_detector() {
  return std::make_unique<CpuContentionDetector>();
}

}  // namespace causeway::analyze::detail

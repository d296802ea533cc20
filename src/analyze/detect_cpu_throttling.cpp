// cpu_throttling: ready to run while the CPU it was queued on sat idle, and a CPU quota over
// its process (cgroup v1 cpu.cfs_quota_us, v2 cpu.max: a Kubernetes CPU limit) throttled it
// during the trace (meta cpu_quotas): the quota, not a task, held it back.
#include "analyze/analyzer.h"

namespace causeway::analyze::detail {

const TraceData::Throttle* quota_throttled(const Context& ctx, const ThreadFacts& f) {
  const TraceData::Throttle* quota = ctx.data.throttle_of(ctx.task(f.tc.thread).pid);
  if (!quota) return nullptr;
  const int64_t idle = f.all.runnable_idle_ns();
  // A task that held the CPU longer than it sat idle is contention, not the quota.
  if (runnable_culprit(ctx.data, f.all) >= 0 || idle * 2 < f.all.runnable_ns) return nullptr;
  return significant(ctx, idle, f.tc.span()) ? quota : nullptr;
}

namespace {

class CpuThrottlingDetector final : public Detector {
 public:
  const char* category() const override { return "cpu_throttling"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const TraceData::Throttle* quota = quota_throttled(ctx, f);
    if (!quota) return false;
    const int64_t span = f.tc.span();
    const int64_t idle = f.all.runnable_idle_ns();
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    Chain c = thread_chain(ctx, f, "cpu_throttling", idle);
    c.occurrences = f.all.runnable_intervals;
    const std::string limit = std::to_string(quota->quota_us / 1000) + " ms of CPU per " +
                              std::to_string(quota->period_us / 1000) + " ms";
    c.summary = who + " was throttled by the CPU quota of cgroup " + quota->cgroup + " (" + limit +
                "): ready to run with its CPU idle for " + format_duration(idle) + " (" +
                percent(static_cast<double>(idle) / static_cast<double>(span)) + " of its " +
                span_text + ")";
    c.explanation = who + " issues CUDA work, yet for " + format_duration(idle) +
                    " it was ready to run while the CPU it was queued on sat idle. The cgroup " +
                    quota->cgroup + " limits its processes to " + limit + ", and its " +
                    "throttling counter rose by " + std::to_string(quota->periods_throttled) +
                    " periods (" + format_duration(quota->throttled_ns) +
                    " held back) during the trace (meta cpu_quotas). Over the span: " +
                    breakdown_sentence(ctx, f.all) + ".";
    c.recommendation = "Raise the CPU quota of " + quota->cgroup +
                       " (cgroup v2 cpu.max, a Kubernetes CPU limit) to at least the CPU the "
                       "job needs per period, or remove the limit and keep a request; then "
                       "check cpu.stat nr_throttled stays flat.";

    add_runnable_evidence(c, f.all);
    ctx.finish(c, span);
    out.push_back(std::move(c));
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_cpu_throttling_detector() {
  return std::make_unique<CpuThrottlingDetector>();
}

}  // namespace causeway::analyze::detail

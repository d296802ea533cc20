// cpu_throttling: ready to run while a CPU quota over its process (cgroup v1
// cpu.cfs_quota_us, v2 cpu.max: a Kubernetes CPU limit) throttled it during the trace (meta
// cpu_quotas): the quota, not a task, held it back. On a quiet machine the CPU it was queued on
// sits idle meanwhile; on a busy one the throttled cgroup's CPU time goes to other tasks, so the
// wait shows holders, and the cgroup's own throttled time is what tells the two apart.
#include <algorithm>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {
namespace {

// Waits spent mostly on an idle CPU, with no task holding it longer.
bool waited_on_idle_cpu(const Context& ctx, const ThreadFacts& f) {
  return runnable_culprit(ctx.data, f.all) < 0 && f.all.runnable_idle_ns() * 2 >= f.all.runnable_ns;
}

// The cgroup was held back for at least half as long as the thread waited for a CPU.
bool quota_covers_wait(const TraceData::Throttle& quota, const ThreadFacts& f) {
  return quota.throttled_ns * 2 >= f.all.runnable_ns;
}

// The part of the thread's waits the quota explains: the idle time, or on a busy machine the
// throttled time (at most the wait itself).
int64_t held_by_quota(const Context& ctx, const ThreadFacts& f, const TraceData::Throttle& quota) {
  if (waited_on_idle_cpu(ctx, f)) return f.all.runnable_idle_ns();
  return std::min(f.all.runnable_ns, quota.throttled_ns);
}

}  // namespace

const TraceData::Throttle* quota_throttled(const Context& ctx, const ThreadFacts& f) {
  const TraceData::Throttle* quota = ctx.data.throttle_of(ctx.task(f.tc.thread).pid);
  if (!quota) return nullptr;
  // A task that held the CPU longer than it sat idle is contention, unless the quota held the
  // cgroup back for most of that wait.
  if (!waited_on_idle_cpu(ctx, f) && !quota_covers_wait(*quota, f)) return nullptr;
  return significant(ctx, held_by_quota(ctx, f, *quota), f.tc.span()) ? quota : nullptr;
}

namespace {

class CpuThrottlingDetector final : public Detector {
 public:
  const char* category() const override { return "cpu_throttling"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const TraceData::Throttle* quota = quota_throttled(ctx, f);
    if (!quota) return false;
    const int64_t span = f.tc.span();
    const bool idle_cpu = waited_on_idle_cpu(ctx, f);
    const int64_t held = held_by_quota(ctx, f, *quota);
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    Chain c = thread_chain(ctx, f, "cpu_throttling", held);
    c.occurrences = f.all.runnable_intervals;
    const std::string limit = std::to_string(quota->quota_us / 1000) + " ms of CPU per " +
                              std::to_string(quota->period_us / 1000) + " ms";
    const std::string counter = "its throttling counter rose by " +
                                std::to_string(quota->periods_throttled) + " periods (" +
                                format_duration(quota->throttled_ns) +
                                " held back) during the trace (meta cpu_quotas)";
    const std::string share = percent(static_cast<double>(idle_cpu ? held : f.all.runnable_ns) /
                                      static_cast<double>(span)) +
                              " of its " + span_text;
    if (idle_cpu) {
      c.summary = who + " was throttled by the CPU quota of cgroup " + quota->cgroup + " (" +
                  limit + "): ready to run with its CPU idle for " + format_duration(held) + " (" +
                  share + ")";
      c.explanation = who + " issues CUDA work, yet for " + format_duration(held) +
                      " it was ready to run while the CPU it was queued on sat idle. The cgroup " +
                      quota->cgroup + " limits its processes to " + limit + ", and " + counter +
                      ". Over the span: " + breakdown_sentence(ctx, f.all) + ".";
    } else {
      const int32_t top = runnable_culprit(ctx.data, f.all);
      const std::string others =
          top >= 0 ? " (" + ctx.culprit_phrase(top) + " and others used its CPU meanwhile)" : "";
      c.summary = who + " was throttled by the CPU quota of cgroup " + quota->cgroup + " (" +
                  limit + "): ready to run for " + format_duration(f.all.runnable_ns) + " (" +
                  share + ") while the quota held its cgroup back for " +
                  format_duration(quota->throttled_ns);
      c.explanation =
          who + " issues CUDA work, yet for " + format_duration(f.all.runnable_ns) +
          " it was ready to run but not running" + others + ". The cgroup " + quota->cgroup +
          " limits its processes to " + limit + ", and " + counter +
          ": a throttled cgroup cannot run even when a CPU is free, so the other tasks only "
          "took the time it was not allowed to use. Over the span: " +
          breakdown_sentence(ctx, f.all) + ".";
    }
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

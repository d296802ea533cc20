// lock_wait: the CUDA-issuing thread spent its time blocked on futexes (locks) over its active
// span, named for the thread that released them most, with what that thread was doing (its
// waker chain: e.g. blocked in fdatasync while holding the lock).
#include "analyze/analyzer.h"

namespace causeway::analyze::detail {

namespace {

class LockWaitDetector final : public Detector {
 public:
  const char* category() const override { return "lock_wait"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const int64_t span = f.tc.span();
    const int64_t ns = f.all.blocked_by(BlockCause::kLock);
    if (!significant(ctx, ns, span)) return false;
    const BlockShare* top = largest_share(f.all, BlockCause::kLock);
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    Chain c = blocked_chain(ctx, f, "lock_wait", BlockCause::kLock, ns);
    const double share = static_cast<double>(ns) / static_cast<double>(span);
    const int32_t culprit = top->waker;
    const std::vector<WakerHop> hops =
        waker_chain(ctx.data, f.tc.thread, top->waker, top->largest_ts, top->largest_end,
                    ctx.opts.max_waker_depth);
    if (culprit >= 0) c.culprit = ctx.task(culprit);
    c.summary = who + " waited on locks for " + format_duration(ns) + " (" + percent(share) +
                " of its " + span_text + ")" +
                (culprit >= 0 ? "; mostly released by " + ctx.culprit_phrase(culprit) : "");
    c.explanation = who + " feeds the GPU but spent " + format_duration(ns) + " (" +
                    percent(share) + " of its " + span_text +
                    ") blocked on futexes. Over the span: " + breakdown_sentence(ctx, f.all) + ".";
    if (!hops.empty()) {
      c.explanation += " Longest wait:";
      for (const WakerHop& h : hops) {
        c.explanation +=
            (h.depth == 1 ? " " : "; in turn, ") + ctx.culprit_phrase(h.thread) + " " + h.detail;
      }
      c.explanation += ".";
    }
    c.recommendation = recommendation_for(ctx, c.category, f.tc.thread, culprit, hops, f.all);
    add_blocked_evidence(c, *top);
    ctx.add_waker_chain(c, hops);
    ctx.finish(c, span);
    out.push_back(std::move(c));
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_lock_wait_detector() {
  return std::make_unique<LockWaitDetector>();
}

}  // namespace causeway::analyze::detail

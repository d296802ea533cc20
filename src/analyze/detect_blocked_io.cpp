// blocked_io: the CUDA-issuing thread itself spent its time blocked on I/O (uninterruptible
// sleep, block I/O of its own, fsync-like syscalls) over its active span.
#include "analyze/analyzer.h"

namespace causeway::analyze::detail {

namespace {

class BlockedIoDetector final : public Detector {
 public:
  const char* category() const override { return "blocked_io"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const int64_t span = f.tc.span();
    const int64_t ns = f.all.blocked_by(BlockCause::kIo);
    if (!significant(ctx, ns, span)) return false;
    const BlockShare* top = largest_share(f.all, BlockCause::kIo);
    const std::string who = ctx.who(f.tc.thread);
    const std::string span_text = format_duration(span) + " active span";
    Chain c = blocked_chain(ctx, f, "blocked_io", BlockCause::kIo, ns);
    const double share = static_cast<double>(ns) / static_cast<double>(span);
    c.culprit = ctx.task(f.tc.thread);
    c.summary = who + " was blocked on I/O for " + format_duration(ns) + " (" + percent(share) +
                " of its " + span_text + ")" +
                (top->dev ? ", mostly on device " + device_name(top->dev) : "");
    c.explanation = who + " feeds the GPU but spent " + format_duration(ns) + " (" +
                    percent(share) + " of its " + span_text +
                    ") blocked waiting for I/O, largest share in " + top->reason + " (" +
                    format_duration(top->ns) + " over " + std::to_string(top->intervals) +
                    " waits). Over the span: " + breakdown_sentence(ctx, f.all) + ".";
    c.recommendation = recommendation_for(ctx, c.category, f.tc.thread, f.tc.thread, {}, f.all);
    add_blocked_evidence(c, *top);
    ctx.finish(c, span);
    out.push_back(std::move(c));
    return false;
  }
};

}  // namespace

const BlockShare* largest_share(const Decomposition& d, BlockCause cause) {
  const BlockShare* top = nullptr;
  for (const BlockShare& b : d.blocked) {
    if (b.cause == cause && (!top || b.ns > top->ns)) top = &b;
  }
  return top;
}

Chain blocked_chain(const Context& ctx, const ThreadFacts& f, const char* category,
                    BlockCause cause, int64_t impact_ns) {
  Chain c = thread_chain(ctx, f, category, impact_ns);
  for (const BlockShare& b : f.all.blocked) {
    if (b.cause == cause) c.occurrences += b.intervals;
  }
  return c;
}

void add_blocked_evidence(Chain& c, const BlockShare& b) {
  c.evidence.push_back({"thread_state", b.largest_state_id, b.largest_ts, "blocked"});
  if (b.largest_syscall_id) {
    c.evidence.push_back({"syscall", b.largest_syscall_id, 0, "blocking syscall"});
  }
  if (b.largest_io_id) c.evidence.push_back({"block_io", b.largest_io_id, b.largest_io_ts, "I/O"});
}

std::unique_ptr<Detector> make_blocked_io_detector() {
  return std::make_unique<BlockedIoDetector>();
}

}  // namespace causeway::analyze::detail

// gil_wait: a thread of a Python process that issues CUDA work spends its time waiting for the
// GIL (python_gil.h recognises the waits and their holders), so the GPU waits on Python code
// running in another thread. Names the thread that held the GIL and, with Python stacks on,
// the line it was running.
#include <algorithm>
#include <map>

#include "analyze/analyzer.h"
#include "analyze/decompose.h"

namespace causeway::analyze::detail {

namespace {

std::string line_text(const TraceData::PyLine& l) {
  std::string s = l.function;
  if (!l.file.empty()) {
    s += " at " + l.file;
    if (l.line > 0) s += ":" + std::to_string(l.line);
  }
  return s;
}

class GilWaitDetector final : public Detector {
 public:
  const char* category() const override { return "gil_wait"; }

  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    const Decomposition& all = f.all;
    const int64_t gil = all.blocked_by(BlockCause::kGil);
    const int64_t span = f.tc.span();
    if (!significant(ctx, gil, span)) return false;
    // The holders, by GIL-wait time they explain.
    std::map<int32_t, int64_t> by_holder;
    int64_t waits = 0;
    for (const BlockShare& b : all.blocked) {
      if (b.cause != BlockCause::kGil) continue;
      by_holder[b.waker] += b.ns;
      waits += b.intervals;
    }
    std::vector<std::pair<int64_t, int32_t>> ranked;  // (ns, holder), known holders
    int64_t unknown_ns = 0;
    for (const auto& [h, ns] : by_holder) {
      if (h < 0) {
        unknown_ns += ns;
      } else {
        ranked.push_back({ns, h});
      }
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    const int32_t top = ranked.empty() ? -1 : ranked[0].second;
    const int64_t top_ns = ranked.empty() ? 0 : ranked[0].first;
    // The largest wait the top holder explains (else the largest), for evidence and its chain.
    const BlockShare* rep = nullptr;
    auto rank = [&](const BlockShare& b) { return std::pair(b.waker == top, b.largest_ns); };
    for (const BlockShare& b : all.blocked) {
      if (b.cause == BlockCause::kGil && (!rep || rank(b) > rank(*rep))) rep = &b;
    }
    const TraceData& d = ctx.data;
    const std::string who = ctx.who(f.tc.thread);
    Chain c = thread_chain(ctx, f, "gil_wait", gil);
    c.occurrences = waits;
    if (top >= 0) c.culprit = ctx.task(top);
    const double share = static_cast<double>(gil) / static_cast<double>(span);
    const TraceData::PyLine* line = nullptr;
    if (top >= 0) {
      auto it = d.gil_holder_line.find(top);
      if (it != d.gil_holder_line.end()) line = &it->second;
    }
    c.summary = who + " waited for the Python GIL for " + format_duration(gil) + " (" +
                percent(share) + " of its " + format_duration(span) + " active span)";
    if (top >= 0) {
      c.summary += "; " + ctx.culprit_phrase(top) + " held it most (" + format_duration(top_ns) +
                   ")" + (line ? ", running " + line_text(*line) : "");
    }
    std::string holders;
    int n = 0;
    for (const auto& [ns, h] : ranked) {
      if (n == 3) break;
      holders += (n ? "; " : "") + ctx.culprit_phrase(h) + " " + format_duration(ns);
      ++n;
    }
    if (ranked.size() > 3) holders += " and " + std::to_string(ranked.size() - 3) + " more";
    if (unknown_ns > 0) {
      holders += (n ? "; " : "") + std::string("a holder the trace does not show ") +
                 format_duration(unknown_ns);
    }
    c.explanation =
        who + " issues CUDA work from Python, yet for " + format_duration(gil) + " (" +
        percent(share) + " of its active span, " + std::to_string(waits) +
        " waits) it was blocked waiting for the global interpreter lock, so the GPU waited "
        "while another thread ran Python. A thread that wants the GIL waits for the switch "
        "interval, asks the holder to let go and waits again; the waits on the GIL's futex "
        "words show this. Who held the GIL meanwhile: " +
        holders + ".";
    if (line) {
      c.explanation += " When " + ctx.culprit_phrase(top) +
                       " had to let the GIL go it was running " + line_text(*line) + ".";
    }
    c.explanation += " Over the span: " + breakdown_sentence(ctx, all) + ".";
    c.recommendation =
        top >= 0 ? "Move the CPU-bound Python work of " + ctx.culprit_phrase(top) +
                       (line ? " (" + line_text(*line) + ")" : "") +
                       " out of this process (a worker process, multiprocessing) or into code "
                       "that releases the GIL (NumPy, a C extension, a free-threaded build), so "
                       "the thread that drives the GPU gets the interpreter when it needs it; "
                       "a shorter sys.setswitchinterval() only shortens each wait."
                 : "Find which thread of the process runs Python while this one waits (record "
                   "with Python stacks on), and move that work out of the process or into "
                   "code that releases the GIL.";
    if (rep) {
      c.evidence.push_back(
          {"thread_state", rep->largest_state_id, rep->largest_ts, "waiting for the GIL"});
      if (rep->largest_syscall_id) {
        c.evidence.push_back({"syscall", rep->largest_syscall_id, 0, "futex wait on the GIL"});
      }
    }
    if (line && line->state_id) {
      c.evidence.push_back(
          {"thread_state", line->state_id, line->ts, "GIL holder's Python stack when it let go"});
    }
    if (rep && top >= 0) {
      ctx.add_waker_chain(c, waker_chain(ctx.data, f.tc.thread, top, rep->largest_ts,
                                         rep->largest_end, ctx.opts.max_waker_depth));
    }
    ctx.finish(c, span);
    out.push_back(std::move(c));
    return false;  // GIL time is its own cause: locks and loaders are judged on the rest
  }
};

}  // namespace

std::unique_ptr<Detector> make_gil_wait_detector() {
  return std::make_unique<GilWaitDetector>();
}

}  // namespace causeway::analyze::detail

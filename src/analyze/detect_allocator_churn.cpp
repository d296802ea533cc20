// allocator_churn: device allocations and frees in the hot loop, costed without the GPU wait
// inside the frees.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {
namespace {

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

class AllocatorChurn : public Detector {
 public:
  const char* category() const override { return "allocator_churn"; }
  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    detect_allocator_churn(ctx, f.tc, out);
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_allocator_churn_detector() {
  return std::make_unique<AllocatorChurn>();
}

}  // namespace causeway::analyze::detail

// pageable_copy: host<->device copies from memory that is not page-locked, staged by the
// driver on the CPU.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyze/analyzer.h"

namespace causeway::analyze::detail {
namespace {

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

class PageableCopy : public Detector {
 public:
  const char* category() const override { return "pageable_copy"; }
  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    detect_pageable_copies(ctx, f.tc, out);
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_pageable_copy_detector() {
  return std::make_unique<PageableCopy>();
}

}  // namespace causeway::analyze::detail

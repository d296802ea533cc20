// host_sync: a step that ends in a sync point (a synchronize, or a synchronous DtoH copy)
// after issuing GPU work, step after step, serialising host and GPU.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

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

class HostSync : public Detector {
 public:
  const char* category() const override { return "host_sync"; }
  bool detect(Context& ctx, const ThreadFacts& f, std::vector<Chain>& out) override {
    detect_host_sync(ctx, f.tc, out);
    return false;
  }
};

}  // namespace

std::unique_ptr<Detector> make_host_sync_detector() {
  return std::make_unique<HostSync>();
}

}  // namespace causeway::analyze::detail

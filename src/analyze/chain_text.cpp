// Human output of `causeway explain`.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "analyze/chains.h"
#include "analyze/decompose.h"
#include "common/terminal_text.h"

namespace causeway::analyze {
namespace {

constexpr size_t kWidth = 100;

// Word-wraps `text` at kWidth, every line prefixed by `indent` (the first by `first`).
std::string wrap(const std::string& text, const std::string& first, const std::string& indent) {
  std::string out, line = first;
  size_t i = 0;
  bool empty_line = true;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    const std::string word = text.substr(i, j - i);
    if (!empty_line && line.size() + 1 + word.size() > kWidth) {
      out += line + "\n";
      line = indent;
      empty_line = true;
    }
    if (!empty_line) line += ' ';
    line += word;
    empty_line = false;
    i = j + 1;
  }
  out += line + "\n";
  return out;
}

std::string share_text(double f) {
  char buf[16];
  std::snprintf(buf, sizeof buf, f > 0 && f < 0.001 ? "<0.1%%" : "%.1f%%", 100.0 * f);
  return buf;
}

std::string upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::string format_chains_text(const std::vector<Chain>& chains, int64_t trace_duration_ns,
                               size_t shown) {
  std::string out;
  if (chains.empty()) {
    return "No causal chains: no CUDA call, host gap or pipeline pattern stands out against this "
           "trace's own baselines (trace " +
           format_duration(trace_duration_ns) + ").\n";
  }
  std::map<std::string, int> by_sev;
  for (const Chain& c : chains) ++by_sev[c.severity];
  out += std::to_string(chains.size()) + (chains.size() == 1 ? " causal chain" : " causal chains") +
         " (" + std::to_string(by_sev["high"]) + " high, " + std::to_string(by_sev["medium"]) +
         " medium, " + std::to_string(by_sev["low"]) + " low) over a " +
         format_duration(trace_duration_ns) + " trace";
  const size_t n = shown > 0 && shown < chains.size() ? shown : chains.size();
  out += n < chains.size() ? "; showing the top " + std::to_string(n) +
                                 ", most severe and "
                                 "largest impact first.\n"
                           : ", most severe and largest impact first.\n";
  for (size_t k = 0; k < n; ++k) {
    const Chain& c = chains[k];
    out += "\n";
    char head[64];
    std::snprintf(head, sizeof head, "#%-3lld %-7s", static_cast<long long>(c.id),
                  upper(c.severity).c_str());
    out += std::string(head) + c.category + "\n";
    const std::string ind = "     ";
    out += wrap(c.summary + ".", ind, ind);
    out += wrap(c.explanation, ind, ind);
    std::string impact = "Impact: " + format_duration(c.impact_ns) + " (" +
                         share_text(c.impact_share) + " of the trace, " +
                         share_text(c.thread_share) + " of the thread's active span)";
    if (c.occurrences > 0) impact += ", " + std::to_string(c.occurrences) + " occurrences";
    out += wrap(impact + ".", ind, ind);
    std::string br = "Breakdown: on-CPU " + format_duration(c.on_cpu_ns) + ", runnable " +
                     format_duration(c.runnable_ns) + ", blocked " + format_duration(c.blocked_ns);
    if (!c.blocked_by_reason.empty()) {
      std::vector<std::pair<int64_t, std::string>> reasons;
      for (const auto& [r, ns] : c.blocked_by_reason) reasons.push_back({-ns, r});
      std::sort(reasons.begin(), reasons.end());
      br += " (";
      for (size_t i = 0; i < reasons.size() && i < 3; ++i) {
        br += (i ? ", " : "") + reasons[i].second + " " + format_duration(-reasons[i].first);
      }
      br += ")";
    }
    br += ", GPU wait " + format_duration(c.gpu_wait_ns);
    if (c.unaccounted_ns > 0) br += ", no data " + format_duration(c.unaccounted_ns);
    out += wrap(br + ".", ind, ind);
    if (!c.waker_chain.empty()) {
      out += ind + "Waker chain:\n";
      for (const WakerStep& w : c.waker_chain) {
        const std::string first = ind + "  " +
                                  std::string(static_cast<size_t>(w.depth - 1) * 2, ' ') +
                                  std::to_string(w.depth) + ". ";
        out += wrap(quoted_name(w.task.comm) + " (pid " + std::to_string(w.task.pid) + ", tid " +
                        std::to_string(w.task.tid) + ") " + w.detail + ".",
                    first, std::string(first.size(), ' '));
      }
    }
    if (!c.evidence.empty()) {
      // Grouped by table, in first-seen order: "cuda_call 1882, 1907; thread_state 9912".
      std::vector<std::pair<std::string, std::string>> groups;
      for (const EvidenceRef& e : c.evidence) {
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const auto& g) { return g.first == e.table; });
        if (it == groups.end()) {
          groups.push_back({e.table, std::to_string(e.id)});
        } else {
          it->second += ", " + std::to_string(e.id);
        }
      }
      std::string ev = "Evidence:";
      for (size_t i = 0; i < groups.size(); ++i) {
        ev += (i ? "; " : " ") + groups[i].first + " " + groups[i].second;
      }
      out += wrap(ev, ind, ind + "  ");
    }
    if (!c.stack.empty()) {
      out += ind + "Stack (" + std::to_string(c.stack_events) + " of the evidence events):\n";
      for (const std::string& frame : c.stack) out += ind + "  " + frame + "\n";
    }
    out += wrap("Fix: " + c.recommendation, ind, ind + "  ");
  }
  return out;
}

}  // namespace causeway::analyze

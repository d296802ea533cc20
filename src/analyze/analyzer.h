// Internal to src/analyze: shared helpers of the chain detectors (chains.cpp, patterns.cpp).
// Thread-safety: none; one Analyzer per compute_chains() call.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyze/chains.h"
#include "analyze/decompose.h"
#include "analyze/trace_data.h"

namespace causeway::analyze::detail {

// The top-level CUDA calls of one thread and its active span.
struct ThreadCalls {
  int32_t thread = -1;
  std::vector<const Call*> calls;  // top-level, in time order
  int64_t span_start = 0;
  int64_t span_end = 0;
  int64_t span() const { return span_end - span_start; }
  bool launches = false;  // issues kernels or copies: its idle gaps starve the GPU
};

struct Context {
  TraceData& data;
  const ExplainOptions& opts;
  // Page-locked host ranges [lo, hi) per pid, built on first use (patterns.cpp).
  std::map<int32_t, std::vector<std::pair<uint64_t, uint64_t>>> pinned;
  bool pinned_built = false;

  TaskRef task(int32_t thread) const;
  // "decode (pid 4121, tid 4133)"
  std::string who(int32_t thread) const;
  // "\"backup\" (pid 812)" for a culprit (thread name, and the process name when it differs)
  std::string culprit_phrase(int32_t thread) const;
  const FunctionInfo& fn(const Call& c) const { return data.functions[static_cast<size_t>(c.fn)]; }
  // Severity from impact and its share of the subject's active span.
  std::string severity(int64_t impact_ns, int64_t span_ns) const;
  // Copies decomposition totals, top preempters/blocked shares into `chain`.
  void fill_breakdown(Chain& chain, const Decomposition& d) const;
  void add_waker_chain(Chain& chain, const std::vector<WakerHop>& hops) const;
  // Fills impact_share/thread_share/severity from impact_ns.
  void finish(Chain& chain, int64_t span_ns) const;
};

// Where the time of `d` went, largest first, as a clause list with shares and culprits.
std::string breakdown_sentence(const Context& ctx, const Decomposition& d);

std::string percent(double fraction);   // "34%"
std::string ratio(double r);            // "6.8x"
std::string bytes_text(int64_t bytes);  // "64.0 MiB"

// Pipeline-pattern detectors (patterns.cpp). Each appends zero or more chains.
void detect_host_sync(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out);
void detect_allocator_churn(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out);
void detect_pageable_copies(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out);
void detect_phase_shift(Context& ctx, const ThreadCalls& tc, std::vector<Chain>& out);

}  // namespace causeway::analyze::detail

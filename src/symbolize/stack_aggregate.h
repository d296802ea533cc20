// The stacks behind a set of events, aggregated: which code paths issued the matching CUDA
// calls (or went off CPU), how often and for how long. Stacks that symbolize identically
// (e.g. different return addresses on the same source lines) are one entry.
//
// Thread-safety: none; uses the given connection and symbolizer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "symbolize/stack_symbols.h"

struct sqlite3;

namespace causeway::symbolize {

enum class StackSource {
  kCudaCalls,  // cuda_call rows: the stack at entry
  kBlocked,    // thread_state rows in state sleeping / uninterruptible: the stack going off CPU
};

struct StackQuery {
  StackSource source = StackSource::kCudaCalls;
  std::optional<std::string> function;  // CUDA function name (kCudaCalls only)
  std::optional<int32_t> pid;
  std::optional<int32_t> tid;
  std::optional<int64_t> since_ns;  // events overlapping [since_ns, until_ns), ns since origin
  std::optional<int64_t> until_ns;
  std::vector<int64_t> event_ids;  // only these rows of the source table (empty = all)
};

struct AggregatedStack {
  std::vector<Frame> frames;          // merged native + Python, innermost first
  int64_t count = 0;                  // events with this stack
  int64_t total_ns = 0;               // sum of their durations, ns
  std::vector<int64_t> stack_ids;     // native stack ids (stack.id) that symbolize to it
  std::vector<int64_t> py_stack_ids;  // Python stack ids (python_stack.id) among them, distinct
};

// Events sharing one raw (native stack, Python stack) pair; at least one id is set.
struct StackGroup {
  std::optional<int64_t> stack;     // stack.id
  std::optional<int64_t> py_stack;  // python_stack.id
  int64_t count = 0;                // events
  int64_t ns = 0;                   // their total duration, ns
};

// Symbolizes each group and merges groups whose stacks display identically (equal frame_key
// of every merged frame): different return addresses on the same lines, or the same binary in
// different processes. Result ordered by total_ns then count, descending; ties keep the order
// in which their first group appears in `groups`. Fails when a stack cannot be read.
Result<std::vector<AggregatedStack>> merge_stack_groups(StackSymbolizer& symbolizer,
                                                        const std::vector<StackGroup>& groups);

struct StackAggregate {
  int64_t events = 0;      // events matching the query
  int64_t events_ns = 0;   // their total duration, ns
  int64_t with_stack = 0;  // of which had a (native or Python) stack
  // Distinct stacks, by total_ns then count, descending (ties: the stack whose first event came
  // first).
  std::vector<AggregatedStack> stacks;
};

// Fails with one sentence when the trace cannot be read.
Result<StackAggregate> aggregate_stacks(sqlite3* db, StackSymbolizer& symbolizer,
                                        const StackQuery& query);

}  // namespace causeway::symbolize

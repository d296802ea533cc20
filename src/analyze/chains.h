// Causal chains: ranked, quantified explanations of why a traced GPU workload was slow.
//
// This is the API the CLI (`causeway explain`) and the MCP server (get_causal_chains) use.
// See docs/explain.md for what each category means and how it is detected.
//
// A chain links specific slow intervals (a CUDA call far above its own baseline, a host gap
// between CUDA calls far above its baseline, or a thread's whole active span for pipeline
// patterns) to the specific intervals that made them slow: on-CPU time, runnable time (who
// preempted, on which CPU), blocked time by cause (syscall, futex, I/O device), who woke the
// thread and — recursively, up to three hops — what that waker was doing, and time spent
// waiting for the GPU. Every number comes from recorded events; evidence cites event ids
// together with their table.
//
// Units: all *_ns fields are nanoseconds; timestamps are ns since the trace origin.
// Thread-safety: compute_chains() is reentrant (it owns all its state); it reads `db` only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/baseline.h"
#include "common/result.h"

struct sqlite3;

namespace causeway::analyze {

// Bumped whenever chain detection or output changes, so stored chains are recomputed.
inline constexpr int kAnalysisVersion = 8;

struct ExplainOptions {
  std::optional<int32_t> pid;       // only chains about threads of this process
  std::optional<int64_t> since_ns;  // only calls/gaps in [since, until) (ns since origin)
  std::optional<int64_t> until_ns;
  size_t top = 0;       // keep the N highest-impact chains; 0 = all
  OutlierRule outlier;  // when a call or gap counts as far above its baseline
  // A thread-level finding (e.g. runnable share) is reported from this share of the thread's
  // active span up, and only when it amounts to at least min_impact_ns.
  double min_share = 0.05;
  int64_t min_impact_ns = 1'000'000;
  // Severity from the lost time's share of the affected thread's active span.
  double high_share = 0.20;
  double medium_share = 0.05;
  // Waker chains are followed this many hops (the issue asks for 3).
  int max_waker_depth = 3;
  bool any_filter() const { return pid || since_ns || until_ns; }
};

// A process/thread as users know it.
struct TaskRef {
  int32_t pid = 0;
  int32_t tid = 0;
  std::string comm;     // thread name
  std::string process;  // process name
};

struct EvidenceRef {
  std::string table;  // "cuda_call", "thread_state", "syscall", "block_io", "cpu_slice"
  int64_t id = 0;     // row id in that table
  int64_t ts_ns = 0;  // its start time (ns since origin); 0 if unknown
  std::string role;   // what it shows, e.g. "slow call", "preempted", "woken by", "I/O"
};

struct PreemptorShare {
  std::string holder = "task";  // "task"; "idle": the CPU was idle meanwhile (wakeup latency or
                                // throttling); "unknown": no record of who held it
  TaskRef task;                 // who held the CPU when holder is "task"
  int32_t cpu = -1;
  int64_t ns = 0;
  int64_t intervals = 0;
};

struct BlockedShare {
  std::string cause;   // "io", "lock", "gil" (waker = the GIL holder), "wait", "sleep"
  std::string reason;  // syscall name, or "sleeping" / "uninterruptible"
  std::optional<TaskRef> waker;
  std::string woken_by;  // "task", "interrupt", "timer" (a timeout expired: nobody woke it),
                         // or empty when the trace does not say (older traces)
  std::string device;    // "8:0" for I/O, else empty
  int64_t ns = 0;
  int64_t intervals = 0;
};

struct WakerStep {
  int depth = 1;
  TaskRef task;
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  std::string activity;  // on_cpu, runnable, blocked_io, lock_wait, gil_wait, waiting, sleeping,
                         // untraced
  std::string detail;    // one clause, e.g. "was blocked in fdatasync waiting for I/O on ..."
  int64_t on_cpu_ns = 0;
  int64_t runnable_ns = 0;
  int64_t blocked_ns = 0;
};

struct Chain {
  int64_t id = 0;           // rank, 1 = highest impact
  std::string severity;     // "high", "medium", "low"
  std::string category;     // stable machine word, see docs/explain.md
  std::string kind;         // "slow_calls", "gpu_gaps", "thread", "pattern"
  std::string summary;      // one line
  std::string explanation;  // one paragraph
  std::string recommendation;
  TaskRef subject;       // the thread that was slowed
  std::string function;  // CUDA function concerned, if any
  std::optional<TaskRef> culprit;
  int64_t impact_ns = 0;             // time lost
  double impact_share = 0;           // impact / trace duration
  double thread_share = 0;           // impact / the subject thread's active span
  int64_t occurrences = 0;           // slow calls / gaps / pattern instances
  std::optional<Baseline> baseline;  // of the function/gap on this thread, when relevant
  int64_t observed_p50_ns = 0;       // of the slow occurrences
  int64_t observed_p99_ns = 0;
  int64_t observed_max_ns = 0;
  int64_t window_start_ns = 0;  // first and last affected instant
  int64_t window_end_ns = 0;
  // Decomposition of the affected intervals.
  int64_t on_cpu_ns = 0;
  int64_t runnable_ns = 0;
  int64_t blocked_ns = 0;  // total; by reason in `blocked_by_reason`
  std::map<std::string, int64_t> blocked_by_reason;
  int64_t gpu_wait_ns = 0;
  int64_t unaccounted_ns = 0;
  std::vector<PreemptorShare> preempters;  // largest first, at most 5
  std::vector<BlockedShare> blocked;       // largest first, at most 5
  std::vector<WakerStep> waker_chain;      // from the representative interval, depth <= 3
  std::vector<EvidenceRef> evidence;       // at most 12
  // The evidence events' most common symbolized call stack (attach_stacks, chain_stacks.cpp),
  // innermost first, one rendered frame each ("function at file:line"); empty when none.
  std::vector<std::string> stack;
  int64_t stack_events = 0;  // evidence events with that stack
};

// Computes the chains of the trace open on `db` (any connection that can read it; nothing
// is written), ranked by severity then impact, ids 1..N. Fails with one sentence if the trace
// cannot be read. An empty trace, or one without CUDA calls, gives an empty vector.
Result<std::vector<Chain>> compute_chains(sqlite3* db, const ExplainOptions& opts);

// Fills Chain::stack / stack_events from the evidence's cuda_call (else blocked
// thread_state) rows, symbolized from the trace's stored symbols or in memory. Never writes.
void attach_stacks(sqlite3* db, std::vector<Chain>& chains);

// Deterministic ranking: severity, then impact, then category, subject tid, function, first
// evidence id. Renumbers ids 1..N. Exposed for tests.
void rank_chains(std::vector<Chain>& chains);

// Keeps the chains matching opts.pid / since / until (used on stored chains) and the top N.
std::vector<Chain> filter_chains(const std::vector<Chain>& chains, const ExplainOptions& opts);

// JSON (the `--json` output and MCP): {"chains": [...]} and one chain. Stable key names,
// documented in docs/explain.md.
nlohmann::json to_json(const Chain& chain);
nlohmann::json chains_to_json(const std::vector<Chain>& chains);
// The inverse of to_json (stored chains). Fails with one sentence on a malformed object.
Result<Chain> chain_from_json(const nlohmann::json& j);

// Human output of `causeway explain`: a header line, then per chain the severity, summary,
// explanation, breakdown, waker chain, evidence and fix. `trace_duration_ns` for the header.
// The header counts all `chains`; only the first `shown` are printed (0 = all), and the
// header says so when that is fewer.
std::string format_chains_text(const std::vector<Chain>& chains, int64_t trace_duration_ns,
                               size_t shown = 0);

}  // namespace causeway::analyze

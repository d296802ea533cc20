// Trace statistics (`causeway stats`, MCP get_trace_stats): duration, processes, event
// counts per source, drops, per CUDA function count / total / p50 / p95 / p99 / max
// duration and bytes, and launches per kernel.
//
// Units: ns and bytes. Percentiles are nearest-rank over every call of the function.
// Thread-safety: compute_stats() is reentrant; it only reads `db`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

struct sqlite3;

namespace causeway::analyze {

struct ApiStats {
  std::string name;  // function as probed, e.g. "cudaMemcpyAsync"
  int64_t count = 0;
  int64_t total_ns = 0;
  int64_t p50_ns = 0;
  int64_t p95_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
  int64_t bytes = 0;   // sum over calls that moved/allocated bytes
  int64_t errors = 0;  // calls with a non-zero return value
};

// Launches of one kernel through the runtime API (cudaLaunchKernel*). Driver launches are not
// counted here: a runtime launch may forward to a driver launch (the simulated runtime does),
// which would count it twice, and a CUfunction alone names no kernel (docs/stacks.md).
struct KernelStats {
  std::string name;   // cuda_kernel name; "" when not known (then `addr` tells kernels apart)
  uint64_t addr = 0;  // host function address; set only when `name` is ""
  int64_t launches = 0;
};

struct ProcessStats {
  int32_t pid = 0;
  std::string name;
  std::string cmdline;
  int64_t threads = 0;
  int64_t cuda_calls = 0;
};

struct TraceStats {
  int64_t duration_ns = 0;  // trace origin to the last event (meta end_ts when present)
  bool complete = false;    // the recorder closed the file cleanly
  std::string host;
  std::string kernel_release;
  std::string tool_version;
  std::vector<ProcessStats> processes;    // traced processes, by pid
  std::map<std::string, int64_t> events;  // rows per event table
  std::map<std::string, int64_t> drops;   // per source, meta drops (store::TraceDrops)
  int64_t total_events = 0;
  int64_t total_drops = 0;     // events the ring buffer lost (meta drops_total)
  std::vector<ApiStats> apis;  // by total_ns, largest first (ties by name)
  // The kKernelRows kernels launched most, most first (ties by name, then address); a named
  // kernel launched by several processes is one row.
  std::vector<KernelStats> kernels;
  int64_t kernels_total = 0;  // distinct kernels launched through the runtime API
};

inline constexpr size_t kKernelRows = 20;

Result<TraceStats> compute_stats(sqlite3* db);

// {"duration_ns", "complete", "host", "kernel_release", "tool_version", "processes": [...],
//  "events": {table: n}, "total_events", "drops": {source: n}, "total_drops",
//  "apis": [{"name", "count", "total_ns", "p50_ns", "p95_ns", "p99_ns", "max_ns", "bytes",
//            "errors"}],
//  "kernels": [{"name" (null when not known), "addr" (hex string, when not named),
//               "launches"}], "kernels_total"}
nlohmann::json to_json(const TraceStats& stats);
Result<TraceStats> stats_from_json(const nlohmann::json& j);

// Human output of `causeway stats`.
std::string format_stats_text(const TraceStats& stats);

}  // namespace causeway::analyze

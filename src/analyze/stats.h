// Trace statistics (`causeway stats`, MCP get_trace_stats): duration, processes, event
// counts per source, drops, and per CUDA function count / total / p50 / p95 / p99 / max
// duration and bytes.
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
};

Result<TraceStats> compute_stats(sqlite3* db);

// {"duration_ns", "complete", "host", "kernel_release", "tool_version", "processes": [...],
//  "events": {table: n}, "total_events", "drops": {source: n}, "total_drops",
//  "apis": [{"name", "count", "total_ns", "p50_ns", "p95_ns", "p99_ns", "max_ns", "bytes",
//            "errors"}]}
nlohmann::json to_json(const TraceStats& stats);
Result<TraceStats> stats_from_json(const nlohmann::json& j);

// Human output of `causeway stats`.
std::string format_stats_text(const TraceStats& stats);

}  // namespace causeway::analyze

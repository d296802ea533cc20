// Reading the JSON values `causeway trace` leaves in the meta table (src/capture/session.cpp
// writes them; docs/schema.md, "Meta keys", describes them), for every reader that shows them:
// `causeway stats`, the HTML report, MCP get_trace_stats. One parser, so they cannot disagree.
//
// Pure functions of the meta strings: no database access, no exceptions (malformed values,
// e.g. a trace edited by hand, give empty results). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace causeway::store {

// Events a recording lost.
struct TraceDrops {
  // Every source meta `drops` names, with its count: the ring-buffer sources (cuda, sched,
  // proc, syscall, blockio) and the gaps of another kind, which keep the event or only lack
  // its entry (cuda_lost_entry, stack_copy; see is_ring_drop_source).
  std::map<std::string, int64_t> by_source;
  // Events the ring buffer lost (meta drops_total; the sum of the ring sources if absent).
  int64_t ring_total = 0;
};

// From meta `drops` (a JSON object: source -> count) and `drops_total`; either may be absent
// (a trace whose recorder was killed, a synthetic trace): then empty / 0.
TraceDrops parse_trace_drops(const std::optional<std::string>& drops_json,
                             const std::optional<std::string>& drops_total);

// Whether a `drops` source counts events the ring buffer lost: false for cuda_lost_entry (a
// CUDA return whose entry record was missing) and stack_copy (a --call-graph dwarf stack copy
// not made; the event keeps its frame-pointer stack).
bool is_ring_drop_source(const std::string& source);

// The CUDA libraries the recorder probed, from meta `cuda_libraries` (a JSON array of {kind,
// path, version, build_id, probed_symbols}): "runtime libcudart.so.13 (13.0.96), driver
// libcuda.so.1 (580.65.06)"; the version is left out when the file name already ends in it.
// "" when the value is absent or not the expected JSON; "none found (kernel events only)"
// when the recorder probed no CUDA library.
std::string cuda_libraries_summary(const std::optional<std::string>& cuda_libraries_json);

}  // namespace causeway::store

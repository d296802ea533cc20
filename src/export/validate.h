// Structural check of a Chrome trace-event document, as written by write_perfetto_json.
//
// What viewers rely on and what the tests assert: every event has ph, pid and tid; complete
// slices (X) have a name, ts >= 0 and dur >= 0; slices on one track (pid, tid) nest properly
// (no partial overlap); every flow start (s) has exactly one finish (f) with the same id, not
// earlier; metadata (M) events carry args.name or args.sort_index.
//
// Times are compared in whole nanoseconds (ts/dur are µs with 3 decimals).
// Thread-safety: pure function of its argument.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace causeway::timeline {

// The problems found, at most `max_problems`, each one sentence; empty when well-formed.
std::vector<std::string> validate_trace_events(const nlohmann::json& doc, size_t max_problems = 20);

}  // namespace causeway::timeline

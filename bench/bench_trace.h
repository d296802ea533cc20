// The large trace the analysis and MCP benchmarks measure on: `events` events of the store's
// deterministic synthetic generator (default options), written to a fresh file and closed
// (indexes built), as `causeway trace` leaves a recording before its analysis.
//
// Header-only: each benchmark is one executable built from one source file (bench/CMakeLists).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "store/synthetic.h"
#include "store/writer.h"

namespace causeway::bench {

// Writes the trace to `path`, replacing any file there. The writer is closed and freed on
// return, so nothing of it counts towards what the caller measures next (e.g. peak RSS).
inline Status write_synthetic_trace(const std::string& path, int64_t events) {
  store::WriterOptions wo;
  wo.origin_ns = store::SyntheticOptions{}.start_ns;
  wo.overwrite = true;
  auto writer = store::Writer::create(path, wo);
  if (!writer.ok()) return writer.status();
  {
    store::SyntheticTrace trace(**writer, store::SyntheticOptions{});
    Status st = trace.add(events);
    if (!st.ok()) return st;
  }
  return (*writer)->close();
}

}  // namespace causeway::bench

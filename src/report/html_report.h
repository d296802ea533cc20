// `causeway report`: one self-contained HTML file that shows a trace to people — the
// summary, the ranked causal chains with their evidence and fix, latency distributions per
// CUDA function and an interactive timeline of the worst intervals. docs/report.md.
//
// Self-contained: CSS, JavaScript and data are inline, drawings are SVG made by the page's
// own script, and a Content-Security-Policy (default-src 'none') forbids any network access,
// so the file opens offline, from a mail attachment or a bug tracker alike.
//
// Safe with hostile traces: every string from the traced system is HTML-escaped where it is
// written as markup and JSON-escaped with '<', '>' and '&' as \u escapes where it is embedded
// as data (report/html_text.h), so a thread named "</script>" stays text.
//
// Bounded: ReportLimits caps chains, histograms, processes, timeline windows, lanes and
// events, so the file stays around a megabyte or less whatever the trace size.
//
// The analysis is not redone differently here: chains come from analyze::chains_for_reader
// and statistics from analyze::stats_for_reader (stored results when current, else computed
// in memory; nothing is written to the trace).
//
// Thread-safety: reentrant; reads only the connection it is given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/chains.h"
#include "analyze/stats.h"
#include "common/result.h"
#include "report/latency_histogram.h"
#include "report/timeline_views.h"

struct sqlite3;

namespace causeway::report {

struct ReportLimits {
  size_t max_chains = 40;           // chains listed (the highest ranked)
  size_t max_histograms = 12;       // CUDA functions with a histogram (largest total time)...
  int64_t min_histogram_calls = 5;  // ...and at least this many calls (else: table row only)
  size_t max_function_rows = 64;    // rows of the per-function latency table
  size_t max_processes = 64;        // rows of the process table
  size_t max_text_bytes = 1024;     // longest command line / string shown (cut with "…")
  TimelineLimits timeline;
};

struct ReportOptions {
  // Only chains and calls in [since, until) (ns since the trace origin) of this process.
  std::optional<int64_t> since_ns;
  std::optional<int64_t> until_ns;
  std::optional<int32_t> pid;
  std::string source;     // the database path, shown in the header
  std::string generator;  // e.g. "causeway 0.1.0", shown in the footer
  ReportLimits limits;
};

struct ReportModel {
  ReportOptions options;
  analyze::TraceStats stats;
  bool stats_stored = false;                // taken from the trace (else computed in memory)
  std::map<std::string, std::string> meta;  // cuda_libraries, command_line, origin_realtime_ns
  std::vector<analyze::Chain> chains;       // at most limits.max_chains
  size_t chains_total = 0;
  bool chains_stored = false;
  Histograms histograms;            // every function (up to max_function_rows), by total time
  std::vector<size_t> drawn;        // indexes into histograms.functions that get a histogram
  std::vector<TimelineView> views;  // views[i] belongs to chains[i]
};

// Reads everything the report shows from a causeway trace (a store::Reader connection).
// Fails with one sentence if the trace cannot be read.
Result<ReportModel> build_report(sqlite3* db, const ReportOptions& options);

// The data the page's script draws from (timeline windows, histograms, chain evidence), as
// embedded in the page (docs/report.md describes the format).
nlohmann::json report_data(const ReportModel& model);

// The whole HTML document.
std::string render_html(const ReportModel& model);

}  // namespace causeway::report

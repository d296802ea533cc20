// Latency distributions per CUDA function for the HTML report: log-scale histograms with the
// nearest-rank p50/p95/p99 of the same calls marked.
//
// Buckets are fixed and the same for every function and every trace, so reports compare at
// a glance: kBucketsPerDecade per power of ten, bucket k = [edge(k), edge(k+1)) with
// edge(k) = round(10^(k / kBucketsPerDecade)) ns, from 1 ns to 10^12 ns (1000 s; longer calls
// land in the last bucket). A histogram keeps the buckets from its first non-empty to its
// last non-empty one.
//
// Units: ns. Thread-safety: pure functions; compute_histograms only reads `db`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analyze/stats.h"
#include "common/result.h"

struct sqlite3;

namespace causeway::report {

inline constexpr int kBucketsPerDecade = 4;
inline constexpr int kBucketCount = 12 * kBucketsPerDecade;  // 1 ns .. 10^12 ns

// Lower edge of bucket k (0 <= k <= kBucketCount), ns.
int64_t bucket_edge_ns(int k);
// The bucket a duration falls in (durations <= 1 ns: 0; >= 10^12 ns: kBucketCount - 1).
int bucket_of(int64_t dur_ns);

struct LatencyBucket {
  int64_t lo_ns = 0;  // inclusive
  int64_t hi_ns = 0;  // exclusive
  int64_t count = 0;
};

struct LatencyHistogram {
  std::string function;  // as probed, e.g. "cudaStreamSynchronize"
  int64_t count = 0;
  int64_t total_ns = 0;
  int64_t min_ns = 0;
  int64_t p50_ns = 0;  // nearest-rank, as analyze::percentile / `causeway stats`
  int64_t p95_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
  std::vector<LatencyBucket> buckets;  // contiguous, first and last non-empty
};

// The histogram of `sorted` (ascending durations, ns) with its percentiles.
LatencyHistogram build_histogram(std::string function, const std::vector<int64_t>& sorted);

struct HistogramFilter {
  std::optional<int64_t> since_ns;  // calls that start in [since, until), ns since the origin
  std::optional<int64_t> until_ns;
  std::optional<int32_t> pid;  // calls of threads of this process
  bool any() const { return since_ns || until_ns || pid; }
};

struct Histograms {
  std::vector<LatencyHistogram> functions;  // by total time, largest first (ties by name)
  size_t functions_total = 0;               // before the max_functions cap
};

// One histogram per CUDA function over the calls matching `filter`, the max_functions with
// the largest total time. Without a filter, the percentiles are the ones of `whole_trace`
// (the trace statistics), so the report and `causeway stats` always agree; with one, they
// are computed the same way over the selected calls. Fails with one sentence on a query error.
Result<Histograms> compute_histograms(sqlite3* db, const HistogramFilter& filter,
                                      const analyze::TraceStats* whole_trace, size_t max_functions);

}  // namespace causeway::report

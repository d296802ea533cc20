#include "report/latency_histogram.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

#include "analyze/baseline.h"
#include "store/sql_util.h"

namespace causeway::report {

using store::sql::query_error;
using store::sql::Stmt;

namespace {

const std::array<int64_t, kBucketCount + 1>& edges() {
  static const auto table = [] {
    std::array<int64_t, kBucketCount + 1> e{};
    for (int k = 0; k <= kBucketCount; ++k) {
      e[static_cast<size_t>(k)] = std::llround(std::pow(10.0, double(k) / kBucketsPerDecade));
    }
    return e;
  }();
  return table;
}

}  // namespace

int64_t bucket_edge_ns(int k) {
  return edges()[static_cast<size_t>(std::clamp(k, 0, kBucketCount))];
}

int bucket_of(int64_t dur_ns) {
  const auto& e = edges();
  // The last edge <= dur; integer comparison, so exact powers of ten land where they belong.
  const auto it = std::upper_bound(e.begin(), e.end(), dur_ns);
  const int k = static_cast<int>(it - e.begin()) - 1;
  return std::clamp(k, 0, kBucketCount - 1);
}

LatencyHistogram build_histogram(std::string function, const std::vector<int64_t>& sorted) {
  LatencyHistogram h;
  h.function = std::move(function);
  h.count = static_cast<int64_t>(sorted.size());
  if (sorted.empty()) return h;
  for (int64_t d : sorted) h.total_ns += d;
  h.min_ns = sorted.front();
  h.max_ns = sorted.back();
  h.p50_ns = analyze::percentile(sorted, 0.50);
  h.p95_ns = analyze::percentile(sorted, 0.95);
  h.p99_ns = analyze::percentile(sorted, 0.99);
  const int first = bucket_of(sorted.front()), last = bucket_of(sorted.back());
  for (int k = first; k <= last; ++k) {
    h.buckets.push_back({bucket_edge_ns(k), bucket_edge_ns(k + 1), 0});
  }
  for (int64_t d : sorted) ++h.buckets[static_cast<size_t>(bucket_of(d) - first)].count;
  return h;
}

Result<Histograms> compute_histograms(sqlite3* db, const HistogramFilter& filter,
                                      const analyze::TraceStats* whole_trace,
                                      size_t max_functions) {
  std::string sql = "SELECT c.function_id, c.dur FROM cuda_call c";
  if (filter.pid) {
    sql += " JOIN thread t ON t.utid = c.utid JOIN process p ON p.upid = t.upid";
  }
  sql += " WHERE 1";
  if (filter.since_ns) sql += " AND c.ts >= ?1";
  if (filter.until_ns) sql += " AND c.ts < ?2";
  if (filter.pid) sql += " AND p.pid = ?3";
  Stmt q(db, sql);
  if (!q.ok()) return query_error(db, "CUDA calls");
  if (filter.since_ns) q.bind(1, *filter.since_ns);
  if (filter.until_ns) q.bind(2, *filter.until_ns);
  if (filter.pid) q.bind(3, *filter.pid);
  std::unordered_map<int64_t, std::vector<int64_t>> durs;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    durs[q.i64(0)].push_back(std::max<int64_t>(0, q.i64(1)));
  }
  if (rc != SQLITE_DONE) return query_error(db, "CUDA calls");

  Stmt name(db, "SELECT str FROM string WHERE id = ?1");
  if (!name.ok()) return query_error(db, "strings");
  Histograms out;
  for (auto& [fid, v] : durs) {
    name.reset();
    name.bind(1, fid);
    std::string fn = name.step() == SQLITE_ROW ? name.text(0) : "function#" + std::to_string(fid);
    std::sort(v.begin(), v.end());
    out.functions.push_back(build_histogram(std::move(fn), v));
  }
  std::sort(out.functions.begin(), out.functions.end(),
            [](const LatencyHistogram& a, const LatencyHistogram& b) {
              return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.function < b.function;
            });
  out.functions_total = out.functions.size();
  if (out.functions.size() > max_functions) out.functions.resize(max_functions);
  if (!filter.any() && whole_trace != nullptr) {
    // The statistics of the whole trace are the reference numbers (`causeway stats`, MCP
    // get_trace_stats); show exactly those.
    for (LatencyHistogram& h : out.functions) {
      for (const analyze::ApiStats& a : whole_trace->apis) {
        if (a.name != h.function) continue;
        h.p50_ns = a.p50_ns;
        h.p95_ns = a.p95_ns;
        h.p99_ns = a.p99_ns;
        h.max_ns = a.max_ns;
        break;
      }
    }
  }
  return out;
}

}  // namespace causeway::report

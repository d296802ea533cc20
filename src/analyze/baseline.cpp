#include "analyze/baseline.h"

#include <algorithm>
#include <cmath>

namespace causeway::analyze {
namespace {

// Median of `v` (reordered). Mean of the two middle values for an even size, floored, so the
// result is a sample-derived integer and never invented precision.
int64_t median_of(std::vector<int64_t>& v) {
  const size_t n = v.size();
  const size_t mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const int64_t hi = v[mid];
  if (n % 2 == 1) return hi;
  const int64_t lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return lo + (hi - lo) / 2;
}

}  // namespace

Baseline robust_baseline(std::vector<int64_t> samples) {
  Baseline b;
  b.count = static_cast<int64_t>(samples.size());
  if (samples.empty()) return b;
  b.median_ns = median_of(samples);
  for (int64_t& s : samples) s = s >= b.median_ns ? s - b.median_ns : b.median_ns - s;
  b.mad_ns = median_of(samples);
  return b;
}

int64_t percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(std::ceil(q * n));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

bool is_outlier(int64_t value, const Baseline& baseline, const OutlierRule& rule) {
  if (baseline.count < rule.min_samples) return false;
  const double excess = static_cast<double>(value - baseline.median_ns);
  if (excess < static_cast<double>(rule.min_excess_ns)) return false;
  if (static_cast<double>(value) < rule.ratio * static_cast<double>(baseline.median_ns)) {
    return false;
  }
  return excess > rule.mad_factor * 1.4826 * static_cast<double>(baseline.mad_ns);
}

}  // namespace causeway::analyze

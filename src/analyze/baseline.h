// Robust statistics for latency baselines: median, MAD, nearest-rank percentiles.
//
// Why median + MAD: a baseline must not be dragged up by the very outliers it is meant to
// expose (a mean and standard deviation are; the median and the median absolute deviation
// tolerate up to half the samples being outliers).
//
// Units: whatever the samples are (the analysis uses ns). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace causeway::analyze {

struct Baseline {
  int64_t count = 0;      // samples the baseline was computed from
  int64_t median_ns = 0;  // p50 (mean of the two middle samples for an even count, floored)
  int64_t mad_ns = 0;     // median absolute deviation from the median
};

// Baseline of `samples` (taken by value: it is reordered). count 0 for no samples.
Baseline robust_baseline(std::vector<int64_t> samples);

// Nearest-rank percentile of ascending `sorted` (q in [0, 1]): the smallest sample with at
// least q of the samples <= it. 0 for an empty vector.
int64_t percentile(const std::vector<int64_t>& sorted, double q);

// When a sample counts as far above its baseline. All three conditions must hold, so neither
// a tiny MAD (perfectly regular calls) nor a tiny median (sub-microsecond calls) turns noise
// into findings.
struct OutlierRule {
  double mad_factor = 8.0;          // value - median > mad_factor * 1.4826 * MAD
  double ratio = 3.0;               // value >= ratio * median
  int64_t min_excess_ns = 200'000;  // value - median >= this (200 us)
  int64_t min_samples = 8;          // fewer samples: no baseline, nothing is an outlier
};

bool is_outlier(int64_t value, const Baseline& baseline, const OutlierRule& rule);

}  // namespace causeway::analyze

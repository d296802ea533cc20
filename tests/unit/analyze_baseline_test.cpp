// Robust baselines: median, MAD, nearest-rank percentiles and the outlier rule.
#include <gtest/gtest.h>

#include "analyze/baseline.h"

namespace causeway::analyze {
namespace {

TEST(AnalyzeBaselineTest, MedianAndMadIgnoreTheOutliersTheyExpose) {
  std::vector<int64_t> v = {100, 102, 98, 101, 99, 100, 100, 50'000, 90'000};
  Baseline b = robust_baseline(v);
  EXPECT_EQ(b.count, 9);
  EXPECT_EQ(b.median_ns, 100);
  EXPECT_EQ(b.mad_ns, 1);
}

TEST(AnalyzeBaselineTest, EvenCountTakesTheFlooredMeanOfTheMiddlePair) {
  Baseline b = robust_baseline({10, 20, 30, 41});
  EXPECT_EQ(b.median_ns, 25);
  EXPECT_EQ(robust_baseline({}).count, 0);
  EXPECT_EQ(robust_baseline({7}).median_ns, 7);
}

TEST(AnalyzeBaselineTest, NearestRankPercentiles) {
  std::vector<int64_t> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 0.5), 50);
  EXPECT_EQ(percentile(v, 0.95), 95);
  EXPECT_EQ(percentile(v, 0.99), 99);
  EXPECT_EQ(percentile(v, 1.0), 100);
  EXPECT_EQ(percentile(v, 0.0), 1);
  EXPECT_EQ(percentile({}, 0.5), 0);
  EXPECT_EQ(percentile({42}, 0.99), 42);
}

TEST(AnalyzeBaselineTest, OutlierNeedsRatioAbsoluteExcessAndMadDistance) {
  OutlierRule rule;
  Baseline b{100, 200'000, 10'000};  // 200 us +- 10 us
  EXPECT_TRUE(is_outlier(5'000'000, b, rule));
  EXPECT_FALSE(is_outlier(500'000, b, rule));  // 2.5x: below the ratio
  // Sub-microsecond calls: a 3x slowdown of 1 us is not worth a finding.
  Baseline tiny{100, 1'000, 10};
  EXPECT_FALSE(is_outlier(5'000, tiny, rule));
  // Widely spread calls: 8 scaled MADs are required.
  Baseline noisy{100, 1'000'000, 1'000'000};
  EXPECT_FALSE(is_outlier(5'000'000, noisy, rule));
  EXPECT_TRUE(is_outlier(20'000'000, noisy, rule));
  // Too few samples: no baseline.
  Baseline few{5, 200'000, 0};
  EXPECT_FALSE(is_outlier(50'000'000, few, rule));
}

}  // namespace
}  // namespace causeway::analyze

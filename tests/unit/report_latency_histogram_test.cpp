// Latency histograms of the HTML report: bucket edges, counts, and percentiles that agree
// with `causeway stats`.
#include <gtest/gtest.h>

#include <numeric>

#include "analyze/baseline.h"
#include "analyze/stats.h"
#include "fixtures/scenarios.h"
#include "report/latency_histogram.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::report {
namespace {

using causeway::testing::TempDir;

TEST(ReportLatencyHistogramTest, BucketEdgesAreLogScale) {
  EXPECT_EQ(bucket_edge_ns(0), 1);
  EXPECT_EQ(bucket_edge_ns(kBucketsPerDecade), 10);
  EXPECT_EQ(bucket_edge_ns(6 * kBucketsPerDecade), 1'000'000);
  EXPECT_EQ(bucket_edge_ns(1), 2);  // 10^0.25 = 1.78
  EXPECT_EQ(bucket_of(0), 0);
  EXPECT_EQ(bucket_of(1), 0);
  // A power of ten starts its bucket; one less belongs to the bucket before.
  EXPECT_EQ(bucket_of(1'000'000), 6 * kBucketsPerDecade);
  EXPECT_EQ(bucket_of(999'999), 6 * kBucketsPerDecade - 1);
  EXPECT_EQ(bucket_of(int64_t{1} << 62), kBucketCount - 1);
  for (int k = 0; k < kBucketCount; ++k) {
    EXPECT_LT(bucket_edge_ns(k), bucket_edge_ns(k + 1)) << k;
    EXPECT_EQ(bucket_of(bucket_edge_ns(k)), k) << k;
  }
}

TEST(ReportLatencyHistogramTest, CountsAndNearestRankPercentiles) {
  std::vector<int64_t> v;
  for (int i = 0; i < 97; ++i) v.push_back(10'000);  // 10 µs
  v.push_back(2'000'000);                            // 2 ms
  v.push_back(3'000'000);
  v.push_back(50'000'000);  // 50 ms
  auto h = build_histogram("cudaStreamSynchronize", v);
  EXPECT_EQ(h.count, 100);
  EXPECT_EQ(h.p50_ns, 10'000);
  EXPECT_EQ(h.p95_ns, 10'000);
  EXPECT_EQ(h.p99_ns, 3'000'000);
  EXPECT_EQ(h.max_ns, 50'000'000);
  EXPECT_EQ(h.min_ns, 10'000);
  EXPECT_EQ(h.total_ns, std::accumulate(v.begin(), v.end(), int64_t{0}));
  ASSERT_FALSE(h.buckets.empty());
  EXPECT_EQ(h.buckets.front().lo_ns, 10'000);
  EXPECT_GT(h.buckets.back().hi_ns, 50'000'000);
  EXPECT_LE(h.buckets.back().lo_ns, 50'000'000);
  int64_t total = 0;
  for (size_t i = 0; i < h.buckets.size(); ++i) {
    total += h.buckets[i].count;
    if (i > 0) {
      EXPECT_EQ(h.buckets[i].lo_ns, h.buckets[i - 1].hi_ns);
    }
  }
  EXPECT_EQ(total, 100);
  EXPECT_EQ(h.buckets.front().count, 97);
  EXPECT_EQ(h.buckets.back().count, 1);
  EXPECT_TRUE(build_histogram("none", {}).buckets.empty());
}

TEST(ReportLatencyHistogramTest, AgreesWithTraceStatisticsAndFilters) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::noisy_neighbour(path, false);
  auto reader = store::Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error();
  auto stats = analyze::compute_stats((*reader)->db());
  ASSERT_TRUE(stats.ok()) << stats.error();

  auto all = compute_histograms((*reader)->db(), {}, &*stats, 16);
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->functions.size(), stats->apis.size());
  EXPECT_EQ(all->functions_total, stats->apis.size());
  for (size_t i = 0; i < stats->apis.size(); ++i) {
    const auto& a = stats->apis[i];
    const auto& h = all->functions[i];
    EXPECT_EQ(h.function, a.name);  // same order: total time, largest first
    EXPECT_EQ(h.count, a.count);
    EXPECT_EQ(h.total_ns, a.total_ns);
    EXPECT_EQ(h.p50_ns, a.p50_ns);
    EXPECT_EQ(h.p95_ns, a.p95_ns);
    EXPECT_EQ(h.p99_ns, a.p99_ns);
    EXPECT_EQ(h.max_ns, a.max_ns);
  }
  // Computing the percentiles ourselves (as with a filter) gives the same numbers.
  auto recomputed = compute_histograms((*reader)->db(), {}, nullptr, 16);
  ASSERT_TRUE(recomputed.ok());
  for (size_t i = 0; i < stats->apis.size(); ++i) {
    EXPECT_EQ(recomputed->functions[i].p99_ns, stats->apis[i].p99_ns);
  }

  HistogramFilter other_pid;
  other_pid.pid = 4242;
  auto none = compute_histograms((*reader)->db(), other_pid, &*stats, 16);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->functions.empty());

  HistogramFilter window;
  window.since_ns = 0;
  window.until_ns = 50 * testing::kMs;
  auto early = compute_histograms((*reader)->db(), window, &*stats, 1);
  ASSERT_TRUE(early.ok());
  ASSERT_EQ(early->functions.size(), 1u);  // capped
  EXPECT_EQ(early->functions_total, stats->apis.size());
  EXPECT_LT(early->functions[0].count, all->functions[0].count + all->functions[1].count);
}

}  // namespace
}  // namespace causeway::report

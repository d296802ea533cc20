// cpu_throttling (src/analyze/detect_cpu_throttling.cpp): runnable time on an idle CPU under a
// CPU quota that throttled the process is the quota's, not contention.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

// A 20 ms per 100 ms quota over pid 1800 (cgroup /job.slice), as the recorder writes meta
// cpu_quotas: the period count at the end is `nr_throttled` (1 at the start) and `throttled_ns`
// were held back during the trace.
void set_quota(const std::string& path, int nr_throttled, int64_t throttled_ns) {
  exec_sql(path,
           "INSERT OR REPLACE INTO meta (key, value) VALUES ('cpu_quotas', '[{\"version\": 2, "
           "\"cgroup\": \"/job.slice\", \"quota_us\": 20000, \"period_us\": 100000, "
           "\"start\": {\"nr_periods\": 3, \"nr_throttled\": 1, \"throttled_ns\": 5}, "
           "\"end\": {\"nr_periods\": 40, \"nr_throttled\": " +
               std::to_string(nr_throttled) + ", \"throttled_ns\": " +
               std::to_string(throttled_ns + 5) + "}, \"pids\": [1800]}]')");
}

// The same idle-CPU waits under a CPU quota that throttled the process during the trace (meta
// cpu_quotas, as the recorder writes it): cpu_throttling naming the cgroup and its quota, the
// impact the idle time. A quota that never throttled it is no evidence: still cpu_contention.
TEST(AnalyzeDetectCpuThrottlingTest, IdleWaitsUnderAQuotaThatThrottledAreCpuThrottling) {
  for (bool throttled : {true, false}) {
    SCOPED_TRACE(throttled);
    TempDir dir;
    const std::string path = dir.file("t.db");
    scenarios::contended_by(path, 2);
    set_quota(path, throttled ? 30 : 1, 150'000'000);
    auto v = chains_of(path);
    const Chain* t = find(v, "cpu_throttling");
    if (!throttled) {
      EXPECT_EQ(t, nullptr) << dump(v);
      EXPECT_NE(find(v, "cpu_contention"), nullptr) << dump(v);
      continue;
    }
    ASSERT_NE(t, nullptr) << dump(v);
    EXPECT_EQ(find(v, "cpu_contention"), nullptr) << dump(v);
    EXPECT_FALSE(t->culprit);
    EXPECT_EQ(t->impact_ns, 79 * 1900 * kUs);  // the idle part of the waits
    EXPECT_NE(t->summary.find("cgroup /job.slice (20 ms of CPU per 100 ms)"), std::string::npos)
        << t->summary;
    EXPECT_NE(t->explanation.find("rose by 29 periods (150.0 ms held back)"), std::string::npos)
        << t->explanation;
    EXPECT_NE(t->recommendation.find("cpu.max"), std::string::npos) << t->recommendation;
  }
  // Malformed meta from a hostile file is no evidence, not a failure.
  TempDir dir;
  const std::string path = dir.file("t.db");
  scenarios::contended_by(path, 2);
  exec_sql(path,
           "INSERT OR REPLACE INTO meta (key, value) VALUES ('cpu_quotas', '[{\"start\": "
           "7, \"end\": [], \"pids\": \"x\"}, 3, null')");
  auto v = chains_of(path);
  EXPECT_NE(find(v, "cpu_contention"), nullptr) << dump(v);
}

// On a busy machine a throttled cgroup's CPU goes to other tasks: the same waits then show a
// compiler holding the CPU. When the cgroup was held back for most of the wait (150 ms of
// 160 ms) the quota is the cause, and the compiler is named only as what used the CPU
// meanwhile; when it was held back for a small part (20 ms), the compiler is the culprit.
TEST(AnalyzeDetectCpuThrottlingTest, OnABusyMachineTheThrottledTimeDecidesQuotaOrContention) {
  for (int64_t throttled_ms : {150, 20}) {
    SCOPED_TRACE(throttled_ms);
    TempDir dir;
    const std::string path = dir.file("t.db");
    scenarios::contended_by(path, 0);
    set_quota(path, 30, throttled_ms * 1'000'000);
    auto v = chains_of(path);
    const Chain* t = find(v, "cpu_throttling");
    const Chain* c = find(v, "cpu_contention");
    if (throttled_ms == 20) {
      EXPECT_EQ(t, nullptr) << dump(v);
      ASSERT_NE(c, nullptr) << dump(v);
      ASSERT_TRUE(c->culprit) << dump(v);
      EXPECT_EQ(c->culprit->tid, 1900);
      continue;
    }
    ASSERT_NE(t, nullptr) << dump(v);
    EXPECT_EQ(c, nullptr) << dump(v);
    EXPECT_FALSE(t->culprit);
    EXPECT_EQ(t->impact_ns, 150 * kMs);  // the throttled time, within the 160 ms of waits
    EXPECT_NE(t->summary.find("while the quota held its cgroup back for 150.0 ms"),
              std::string::npos)
        << t->summary;
    EXPECT_NE(t->explanation.find("cc1plus"), std::string::npos) << t->explanation;
  }
}

}  // namespace
}  // namespace causeway::testing

// CPU quotas read from a fake /proc and cgroup filesystem laid out in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "host/cgroup_cpu.h"

namespace causeway::host {
namespace {

namespace fs = std::filesystem;

struct FakeRoot {
  fs::path dir;
  FakeRoot() {
    dir = fs::temp_directory_path() /
          ("cw-cgroup-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
  }
  ~FakeRoot() { fs::remove_all(dir); }
  void write(const std::string& rel, const std::string& text) const {
    const fs::path p = dir / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string root() const { return dir.string(); }
};

TEST(HostCgroupCpu, V2QuotaOfTheProcessAndOfItsPodAboveIt) {
  FakeRoot r;
  r.write("proc/42/cgroup", "0::/kubepods.slice/pod1.slice/cri-containerd-ab.scope\n");
  r.write("sys/fs/cgroup/kubepods.slice/pod1.slice/cri-containerd-ab.scope/cpu.max",
          "20000 100000\n");
  r.write("sys/fs/cgroup/kubepods.slice/pod1.slice/cri-containerd-ab.scope/cpu.stat",
          "usage_usec 900\nnr_periods 50\nnr_throttled 12\nthrottled_usec 3400\n");
  r.write("sys/fs/cgroup/kubepods.slice/pod1.slice/cpu.max", "50000 100000\n");
  r.write("sys/fs/cgroup/kubepods.slice/pod1.slice/cpu.stat", "nr_periods 9\n");
  r.write("sys/fs/cgroup/kubepods.slice/cpu.max", "max 100000\n");  // no limit
  auto q = read_cpu_quotas(42, r.root());
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].version, 2);
  EXPECT_EQ(q[0].path, "/kubepods.slice/pod1.slice/cri-containerd-ab.scope");
  EXPECT_EQ(q[0].quota_us, 20000);
  EXPECT_EQ(q[0].period_us, 100000);
  EXPECT_EQ(q[0].counters.nr_periods, 50);
  EXPECT_EQ(q[0].counters.nr_throttled, 12);
  EXPECT_EQ(q[0].counters.throttled_ns, 3'400'000);
  EXPECT_EQ(q[1].path, "/kubepods.slice/pod1.slice");
  EXPECT_EQ(q[1].quota_us, 50000);

  r.write("sys/fs/cgroup/kubepods.slice/pod1.slice/cri-containerd-ab.scope/cpu.stat",
          "nr_periods 80\nnr_throttled 30\nthrottled_usec 9000\n");
  auto end = read_throttle_counters(q[0], r.root());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->nr_throttled, 30);
  const auto j = cpu_quota_json(q[0], end, {42});
  EXPECT_EQ(j["cgroup"], q[0].path);
  EXPECT_EQ(j["end"]["throttled_ns"], 9'000'000);
  EXPECT_EQ(j["start"]["nr_throttled"], 12);
  EXPECT_EQ(j["pids"], nlohmann::json::array({42}));
}

TEST(HostCgroupCpu, V1CpuControllerWinsOverTheUnifiedLine) {
  FakeRoot r;
  r.write("proc/7/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.stat",
          "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n");
  r.write("sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
  auto q = read_cpu_quotas(7, r.root());
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].version, 1);
  EXPECT_EQ(q[0].path, "/docker/abc");
  EXPECT_EQ(q[0].quota_us, 150000);
  EXPECT_EQ(q[0].counters.throttled_ns, 123456);
}

TEST(HostCgroupCpu, NoQuotaNoProcessOrGarbageGiveNothing) {
  FakeRoot r;
  EXPECT_TRUE(read_cpu_quotas(1, r.root()).empty());  // no such process
  r.write("proc/2/cgroup", "0::/user.slice\n");
  r.write("sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");
  EXPECT_TRUE(read_cpu_quotas(2, r.root()).empty());
  r.write("proc/3/cgroup", "garbage without colons\n0::relative/path\n");
  EXPECT_TRUE(read_cpu_quotas(3, r.root()).empty());
  r.write("proc/4/cgroup", "0::/a/../../etc\n");  // never leaves the cgroup filesystem
  EXPECT_TRUE(read_cpu_quotas(4, r.root()).empty());
  r.write("proc/5/cgroup", "0::/bad\n");
  r.write("sys/fs/cgroup/bad/cpu.max", "-5 0\n");
  EXPECT_TRUE(read_cpu_quotas(5, r.root()).empty());
}

}  // namespace
}  // namespace causeway::host

// CPU quotas of the cgroups a process lives in, and their throttling counters: what a
// Kubernetes CPU limit (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`) does to
// a thread that is runnable while its CPU sits idle.
//
// Reads /proc/PID/cgroup and the cgroup filesystem; never writes. Paths are relative to a
// root directory so tests can lay out a fake /proc and /sys/fs/cgroup. Thread-safe: no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace causeway::host {

// Throttling counters of one cgroup at one instant (cgroup v2 cpu.stat, v1 cpu.stat).
struct CpuThrottleCounters {
  int64_t nr_periods = 0;    // enforcement periods that elapsed with runnable tasks
  int64_t nr_throttled = 0;  // periods in which the group ran out of quota
  int64_t throttled_ns = 0;  // total time the group's tasks were held back, ns
};

// One cgroup with a CPU quota, on the way from a process's cgroup up to the root.
struct CpuQuota {
  int version = 2;  // cgroup version: 1 or 2
  std::string
      path;  // the cgroup, e.g. "/kubepods.slice/kubepods-pod12.slice/cri-containerd-ab.scope"
  int64_t quota_us = 0;   // CPU time allowed per period, microseconds
  int64_t period_us = 0;  // period length, microseconds
  CpuThrottleCounters counters;
};

// The quotas that limit process `pid`: its own cgroup's and every ancestor's that has one
// (a pod limit sits above the container's cgroup), nearest first. Empty when none is set, the
// process is gone, or the cgroup filesystem is not readable. `root` prefixes every path read
// ("" = the real system).
std::vector<CpuQuota> read_cpu_quotas(int32_t pid, const std::string& root = "");

// Counters of the same cgroup read again (e.g. when tracing stops); nullopt if it is gone.
std::optional<CpuThrottleCounters> read_throttle_counters(const CpuQuota& q,
                                                          const std::string& root = "");

// Meta JSON of one quota with its counters at the start and end of the trace:
// {"version", "cgroup", "quota_us", "period_us", "start": {...}, "end": {...}, "pids": [...]}.
nlohmann::json cpu_quota_json(const CpuQuota& start, const std::optional<CpuThrottleCounters>& end,
                              const std::vector<int32_t>& pids);

}  // namespace causeway::host

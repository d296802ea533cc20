#include "host/cgroup_cpu.h"

#include <fstream>
#include <sstream>

namespace causeway::host {
namespace {

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text;
  // Control files are a few lines; a bound keeps a hostile mount from costing memory.
  text.resize(4096);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

std::optional<int64_t> to_int(const std::string& s) {
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used != s.size()) return std::nullopt;
    return static_cast<int64_t>(v);
  } catch (...) {
    return std::nullopt;
  }
}

// "key value" lines of cpu.stat.
std::optional<CpuThrottleCounters> parse_cpu_stat(const std::string& text, int version) {
  CpuThrottleCounters c;
  bool any = false;
  std::istringstream lines(text);
  std::string key, value;
  while (lines >> key >> value) {
    auto v = to_int(value);
    if (!v) continue;
    if (key == "nr_periods") {
      c.nr_periods = *v;
      any = true;
    } else if (key == "nr_throttled") {
      c.nr_throttled = *v;
    } else if (version == 2 && key == "throttled_usec") {
      c.throttled_ns = *v * 1000;
    } else if (version == 1 && key == "throttled_time") {
      c.throttled_ns = *v;
    }
  }
  if (!any) return std::nullopt;
  return c;
}

// Where the cgroup's control files live.
std::string cgroup_dir(const CpuQuota& q, const std::string& root, const std::string& v1_mount) {
  const std::string base = q.version == 2 ? root + "/sys/fs/cgroup" : v1_mount;
  return q.path == "/" ? base : base + q.path;
}

std::string v1_cpu_mount(const std::string& root) {
  for (const char* m : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
    if (read_small_file(root + m + "/cpu.cfs_period_us")) return root + m;
  }
  return root + "/sys/fs/cgroup/cpu,cpuacct";
}

// The quota set on one cgroup directory, if any.
std::optional<CpuQuota> quota_at(int version, const std::string& path, const std::string& dir) {
  CpuQuota q;
  q.version = version;
  q.path = path;
  if (version == 2) {
    auto max = read_small_file(dir + "/cpu.max");
    if (!max) return std::nullopt;
    std::istringstream in(*max);
    std::string quota, period;
    in >> quota >> period;
    auto qv = to_int(quota);
    auto pv = to_int(period);
    if (!qv || !pv || *qv <= 0 || *pv <= 0) return std::nullopt;  // "max": no limit
    q.quota_us = *qv;
    q.period_us = *pv;
  } else {
    auto quota = read_small_file(dir + "/cpu.cfs_quota_us");
    auto period = read_small_file(dir + "/cpu.cfs_period_us");
    if (!quota || !period) return std::nullopt;
    auto trim = [](std::string s) {
      while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
      return s;
    };
    auto qv = to_int(trim(*quota));
    auto pv = to_int(trim(*period));
    if (!qv || !pv || *qv <= 0 || *pv <= 0) return std::nullopt;  // -1: no limit
    q.quota_us = *qv;
    q.period_us = *pv;
  }
  auto stat = read_small_file(dir + "/cpu.stat");
  if (stat) {
    if (auto c = parse_cpu_stat(*stat, version)) q.counters = *c;
  }
  return q;
}

}  // namespace

std::vector<CpuQuota> read_cpu_quotas(int32_t pid, const std::string& root) {
  std::vector<CpuQuota> out;
  auto text = read_small_file(root + "/proc/" + std::to_string(pid) + "/cgroup");
  if (!text) return out;
  // A v1 "cpu" controller line wins (hybrid set-ups keep cpu on v1); else the v2 line.
  int version = 0;
  std::string path;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string p = line.substr(b + 1);
    if (p.empty() || p[0] != '/') continue;
    std::istringstream names(controllers);
    std::string name;
    bool cpu = false;
    while (std::getline(names, name, ',')) cpu = cpu || name == "cpu";
    if (cpu) {
      version = 1;
      path = p;
      break;
    }
    if (controllers.empty() && version == 0) {
      version = 2;
      path = p;
    }
  }
  if (version == 0 || path.find("..") != std::string::npos) return out;
  const std::string v1_mount = version == 1 ? v1_cpu_mount(root) : "";
  // The process's own cgroup, then each ancestor: a pod's limit sits above its containers.
  std::string p = path;
  for (int depth = 0; depth < 64; ++depth) {
    CpuQuota probe;
    probe.version = version;
    probe.path = p;
    if (auto q = quota_at(version, p, cgroup_dir(probe, root, v1_mount))) out.push_back(*q);
    if (p == "/" || p.empty()) break;
    const size_t slash = p.rfind('/');
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return out;
}

std::optional<CpuThrottleCounters> read_throttle_counters(const CpuQuota& q,
                                                          const std::string& root) {
  const std::string dir = cgroup_dir(q, root, q.version == 1 ? v1_cpu_mount(root) : "");
  auto stat = read_small_file(dir + "/cpu.stat");
  if (!stat) return std::nullopt;
  return parse_cpu_stat(*stat, q.version);
}

nlohmann::json cpu_quota_json(const CpuQuota& start, const std::optional<CpuThrottleCounters>& end,
                              const std::vector<int32_t>& pids) {
  auto counters = [](const CpuThrottleCounters& c) {
    return nlohmann::json{{"nr_periods", c.nr_periods},
                          {"nr_throttled", c.nr_throttled},
                          {"throttled_ns", c.throttled_ns}};
  };
  nlohmann::json j = {{"version", start.version},          {"cgroup", start.path},
                      {"quota_us", start.quota_us},        {"period_us", start.period_us},
                      {"start", counters(start.counters)}, {"pids", pids}};
  j["end"] = end ? counters(*end) : nlohmann::json(nullptr);
  return j;
}

}  // namespace causeway::host

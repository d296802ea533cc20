#include "diagnosis_cases.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace causeway::bench {
namespace {

using nlohmann::json;

// Distinct, well-mixed per-case seeds from (run seed, index): consecutive seeds of mt19937_64
// are fine, but the case seed is also printed and reused alone, so mix it.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Draw {
 public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  template <typename T>
  const T& pick(const std::vector<T>& options) {
    return options[static_cast<size_t>(range(0, static_cast<int64_t>(options.size()) - 1))];
  }
  bool coin() { return range(0, 1) == 1; }

 private:
  std::mt19937_64 rng_;
};

void add(Case& c, const std::string& flag, const std::string& value) {
  c.args.push_back(flag);
  c.args.push_back(value);
}
void add(Case& c, const std::string& flag, int64_t value) {
  add(c, flag, std::to_string(value));
}

std::string task_text(const json& task) {
  if (!task.is_object()) return "none";
  std::ostringstream out;
  out << task.value("comm", "?") << "(pid " << task.value("pid", -1) << " tid "
      << task.value("tid", -1) << ")";
  return out.str();
}

std::string chain_text(const json& chain) {
  std::ostringstream out;
  out << chain.value("severity", "?") << ' ' << chain.value("category", "?")
      << " culprit=" << task_text(chain.value("culprit", json()))
      << " subject=" << task_text(chain.value("subject", json())) << " summary=\""
      << chain.value("summary", "") << '"';
  return out.str();
}

bool culprit_matches(const Accept& a, const json& chain, int outside_pid) {
  if (a.culprit_comm.empty()) return true;
  const json culprit = chain.value("culprit", json());
  if (!culprit.is_object()) return false;
  const std::string comm = culprit.value("comm", "");
  const bool comm_ok =
      a.comm_is_prefix ? comm.rfind(a.culprit_comm, 0) == 0 : comm == a.culprit_comm;
  if (!comm_ok) return false;
  // The outside spinner's pid is known: a same-named task elsewhere would not do.
  return !a.culprit_outside || culprit.value("pid", -1) == outside_pid;
}

bool waker_chain_has(const json& chain, const std::string& comm) {
  for (const json& step : chain.value("waker_chain", json::array())) {
    if (step.value("task", json::object()).value("comm", "") == comm) return true;
  }
  return false;
}

// Runs argv with stdout and stderr appended to `log`; returns the exit status (128 + signal when
// killed, -1 when it could not start).
int run_logged(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string last_line(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const size_t nl = trimmed.rfind('\n');
  return nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// A cgroup with a CPU quota for the quota family: v2 (cpu.max) when the unified hierarchy has
// the cpu controller, else v1 (cpu.cfs_quota_us). Empty path + `error` when neither works.
struct Cgroup {
  std::string path;
  std::string error;
};

Cgroup make_cgroup(const std::string& name, int64_t quota_us) {
  const std::string quota = quota_us > 0 ? std::to_string(quota_us) : "max";
  Cgroup cg;
  if (slurp("/sys/fs/cgroup/cgroup.controllers").find("cpu") != std::string::npos) {
    cg.path = "/sys/fs/cgroup/" + name;
    if (mkdir(cg.path.c_str(), 0755) != 0 && errno != EEXIST) {
      cg.error = "cannot create " + cg.path + ": " + std::strerror(errno);
    } else if (!write_text(cg.path + "/cpu.max", quota + " 100000")) {
      cg.error = "cannot write " + cg.path + "/cpu.max";
    }
  } else if (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", W_OK) == 0) {
    cg.path = "/sys/fs/cgroup/cpu/" + name;
    if (mkdir(cg.path.c_str(), 0755) != 0 && errno != EEXIST) {
      cg.error = "cannot create " + cg.path + ": " + std::strerror(errno);
    } else if (!write_text(cg.path + "/cpu.cfs_period_us", "100000") ||
               !write_text(cg.path + "/cpu.cfs_quota_us", quota_us > 0 ? quota : "-1")) {
      cg.error = "cannot set the quota of " + cg.path;
    }
  } else {
    cg.error = "no writable cgroup CPU controller (v2 cpu.max or v1 cpu.cfs_quota_us)";
  }
  if (!cg.error.empty() && !cg.path.empty()) rmdir(cg.path.c_str());
  if (!cg.error.empty()) cg.path.clear();
  return cg;
}

}  // namespace

const std::vector<Family>& all_families() {
  static const std::vector<Family> families = {
      Family::kContention, Family::kLock,    Family::kMultihop, Family::kLoader,
      Family::kRanks,      Family::kTimeout, Family::kQuota,    Family::kGil};
  return families;
}

std::string family_name(Family family) {
  switch (family) {
    case Family::kContention:
      return "contention";
    case Family::kLock:
      return "lock";
    case Family::kMultihop:
      return "multihop";
    case Family::kLoader:
      return "loader";
    case Family::kRanks:
      return "ranks";
    case Family::kTimeout:
      return "timeout";
    case Family::kQuota:
      return "quota";
    case Family::kGil:
      return "gil";
  }
  return "?";
}

std::string Case::expected_text() const {
  switch (expect) {
    case Expect::kNoHigh:
      return "no high-severity chain";
    case Expect::kNoBlame:
      return "no high-severity chain blaming another task";
    case Expect::kTopChain:
      break;
  }
  std::string text = "top chain ";
  for (size_t i = 0; i < accept.size(); ++i) {
    const Accept& a = accept[i];
    if (i > 0) text += " or ";
    text += a.category;
    if (!a.culprit_comm.empty()) {
      text += " culprit=" + a.culprit_comm + (a.comm_is_prefix ? "*" : "");
      if (a.culprit_outside) text += "(outside pid)";
    }
    if (!a.waker_comm.empty()) text += " waker_chain∋" + a.waker_comm;
  }
  return text;
}

Case make_case(Family family, bool healthy, uint64_t seed, int cpus) {
  Draw d(seed);
  Case c;
  c.family = family;
  c.healthy = healthy;
  c.seed = seed;
  c.id = family_name(family) + (healthy ? "-healthy-" : "-") + std::to_string(seed);
  if (family == Family::kGil) {
    // Python: the main thread drives the GPU through ctypes while gil-hog-N threads compute in
    // pure Python; it waits for the GIL after every CUDA call.
    c.python_script = "gil_contention.py";
    const int64_t hogs = d.range(1, 2);
    const int64_t kernel_threads = d.pick<int64_t>({1 << 19, 1 << 20, 1 << 21});
    add(c, "--duration-ms", d.range(1200, 1800));
    add(c, "--hogs", hogs);
    add(c, "--kernel-threads", kernel_threads);
    if (healthy) c.args.push_back("--healthy");
    c.label = "hogs=" + std::to_string(hogs) + " kernel_threads=" + std::to_string(kernel_threads);
    c.expect = healthy ? Expect::kNoHigh : Expect::kTopChain;
    if (!healthy) c.accept.push_back(Accept{"gil_wait", "gil-hog-", true, false, ""});
    return c;
  }
  add(c, "--family", family_name(family));
  add(c, "--duration-ms", d.range(1200, 1800));
  const int cpu = static_cast<int>(d.range(0, cpus - 1));
  const int other_cpu = cpus > 1 ? (cpu + 1) % cpus : cpu;
  add(c, "--cpu", cpu);
  int64_t host_work_us = d.range(1000, 3000);
  const int64_t kernel_threads = d.pick<int64_t>({1 << 19, 1 << 20, 1 << 21});
  add(c, "--kernel-threads", kernel_threads);
  std::ostringstream label;
  label << "cpu=" << cpu << " kernel_threads=" << kernel_threads;
  c.expect = healthy ? Expect::kNoHigh : Expect::kTopChain;

  switch (family) {
    case Family::kContention: {
      const std::string where = d.pick<std::string>({"process", "thread", "outside"});
      const int nice = static_cast<int>(d.pick<int64_t>({-10, -5, 0}));
      const bool helper = d.coin();
      // Healthy twin: the same spinner on another CPU, or (one CPU, or half the time) none.
      const bool elsewhere = healthy && cpus > 1 && d.coin();
      const bool spinner = !healthy || elsewhere;
      const int spinner_cpu = elsewhere ? other_cpu : cpu;
      label << " spinner=" << (spinner ? where : "none") << " spinner_cpu=" << spinner_cpu
            << " nice=" << nice << (helper ? " helper" : "");
      if (where == "outside") {
        c.outside_spinner = spinner;
        c.outside_cpu = spinner_cpu;
        c.outside_nice = nice;
        add(c, "--spinner", "none");
      } else {
        add(c, "--spinner", spinner ? where : "none");
      }
      add(c, "--spinner-cpu", spinner_cpu);
      add(c, "--nice", std::to_string(nice));
      if (helper) c.args.push_back("--helper");
      const std::string comm = where == "outside"  ? "spin-outside"
                               : where == "thread" ? "spin-thread"
                                                   : "spin-child";
      c.accept.push_back(Accept{"cpu_contention", comm, false, where == "outside", ""});
      break;
    }
    case Family::kLock: {
      const std::string hold = d.pick<std::string>({"io", "sleep", "spin"});
      const int64_t hold_us = d.range(3000, 8000);
      label << " hold=" << hold << " hold_us=" << hold_us;
      add(c, "--hold", hold);
      add(c, "--hold-us", hold_us);
      c.accept.push_back(Accept{"lock_wait", "logger", false, false, ""});
      break;
    }
    case Family::kMultihop: {
      const std::string hop = d.pick<std::string>({"pipe", "condvar"});
      const std::string hold = d.pick<std::string>({"io", "sleep", "spin"});
      const int64_t hold_us = d.range(3000, 8000);
      label << " hop=" << hop << " source_work=" << hold << " hold_us=" << hold_us;
      add(c, "--hop", hop);
      add(c, "--hold", hold);
      add(c, "--hold-us", hold_us);
      c.accept.push_back(Accept{"lock_wait", "relay", false, false, "source"});
      break;
    }
    case Family::kLoader: {
      const int64_t loaders = d.range(1, 3);
      const std::string load = d.pick<std::string>({"cpu", "file"});
      const int64_t decode_us = d.range(3000, 6000);
      const int64_t batch = d.range(3, 4);
      // The healthy twin's loaders decode in 50 us (scenario_generated --healthy).
      label << " loaders=" << loaders << " load=" << load
            << " decode_us=" << (healthy ? 50 : decode_us) << " batch=" << batch;
      add(c, "--loaders", loaders);
      add(c, "--load", load);
      add(c, "--decode-us", decode_us);
      add(c, "--batch", batch);
      c.accept.push_back(Accept{"data_loader", "ldr-", true, false, ""});
      break;
    }
    case Family::kRanks: {
      // Each rank needs a CPU of its own apart from the slow rank's, or the others contend too.
      const int64_t ranks = cpus > 2 ? d.range(2, std::min<int64_t>(cpus, 4)) : 2;
      const int64_t slow = d.range(0, ranks - 1);
      const bool outside = d.coin();
      const int nice = static_cast<int>(d.pick<int64_t>({-10, -5, 0}));
      label << " ranks=" << ranks << " slow_rank=" << slow << " spinner="
            << (healthy   ? "none"
                : outside ? "outside"
                          : "process")
            << " nice=" << nice;
      add(c, "--ranks", ranks);
      add(c, "--slow-rank", slow);
      add(c, "--nice", std::to_string(nice));
      add(c, "--spinner", !healthy && !outside ? "process" : "none");
      if (!healthy && outside) {
        c.outside_spinner = true;
        c.outside_cpu = cpu;
        c.outside_nice = nice;
      }
      const std::string comm = outside ? "spin-outside" : "spin-child";
      // The waiting ranks wait for the peer the spinner slows (peer_wait); the slowed rank itself
      // is preempted by the spinner (cpu_contention). Either, naming the spinner, is right.
      c.accept.push_back(Accept{"peer_wait", comm, false, outside, ""});
      c.accept.push_back(Accept{"cpu_contention", comm, false, outside, ""});
      if (!healthy) {
        for (int64_t r = 0; r < ranks; ++r) {
          if (r != slow) c.waiting_comms.push_back("rank-" + std::to_string(r));
        }
        c.waiting_accept = Accept{"peer_wait", comm, false, outside, ""};
      }
      break;
    }
    case Family::kTimeout: {
      // No healthy twin is needed: both variants are healthy. The "pathology" is the trap of a
      // GPU thread whose own waits time out: nobody woke it, so nobody may be blamed.
      const int64_t timeout_us = d.pick<int64_t>({4000, 5000, 6000});
      label << " waits_in=" << (healthy ? "poller" : "gpu-loop") << " timeout_us=" << timeout_us;
      add(c, "--timeout-us", timeout_us);
      if (!healthy) c.args.push_back("--timeout-in-loop");
      c.expect = healthy ? Expect::kNoHigh : Expect::kNoBlame;
      break;
    }
    case Family::kGil:
      break;  // returned above
    case Family::kQuota: {
      // More host work than the other families, so the loop wants far more CPU than the quota.
      host_work_us = d.range(3000, 5000);
      c.quota_us = healthy ? 0 : d.pick<int64_t>({20000, 30000});
      label << " quota_us=" << (healthy ? std::string("max") : std::to_string(c.quota_us))
            << "/100000";
      c.accept.push_back(Accept{"cpu_throttling", "", false, false, ""});
      break;
    }
  }
  add(c, "--host-work-us", host_work_us);
  label << " host_work_us=" << host_work_us;
  // lock, multihop and loader build their healthy twin from this flag; the other families'
  // twins differ in the arguments above, and the flag only marks their summary line.
  if (healthy) c.args.push_back("--healthy");
  if (healthy) c.accept.clear();
  c.label = label.str();
  return c;
}

std::optional<Case> case_from_id(const std::string& id, int cpus) {
  const size_t dash = id.rfind('-');
  if (dash == std::string::npos || dash + 1 >= id.size()) return std::nullopt;
  const std::string seed_text = id.substr(dash + 1);
  if (seed_text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  std::string name = id.substr(0, dash);
  bool healthy = false;
  const std::string suffix = "-healthy";
  if (name.size() > suffix.size() && name.ends_with(suffix)) {
    healthy = true;
    name.resize(name.size() - suffix.size());
  }
  for (Family family : all_families()) {
    if (family_name(family) == name) {
      return make_case(family, healthy, std::strtoull(seed_text.c_str(), nullptr, 10), cpus);
    }
  }
  return std::nullopt;
}

std::vector<Case> generate_cases(uint64_t seed, int count, int cpus) {
  std::vector<Case> cases;
  const auto& families = all_families();
  const int per_round = static_cast<int>(families.size());
  for (int i = 0; i < count; ++i) {
    const Family family = families[static_cast<size_t>(i % per_round)];
    const bool healthy = (i / per_round) % 3 == 2;
    cases.push_back(
        make_case(family, healthy, splitmix64(seed * 1000003ULL + static_cast<uint64_t>(i)), cpus));
  }
  return cases;
}

Verdict judge(const Case& c, const json& explain, int outside_pid,
              const std::vector<int>& traced_pids) {
  Verdict v;
  const json chains = explain.value("chains", json::array());
  if (!c.waiting_comms.empty()) {
    v.waiting_correct = 0;
    v.waiting_got = "no chain about a waiting rank";
    for (const json& chain : chains) {
      const std::string subject = chain.value("subject", json::object()).value("comm", "");
      if (std::find(c.waiting_comms.begin(), c.waiting_comms.end(), subject) ==
          c.waiting_comms.end()) {
        continue;
      }
      v.waiting_got = chain_text(chain);
      v.waiting_correct = chain.value("category", "") == c.waiting_accept.category &&
                                  chain.value("severity", "") != "low" &&
                                  culprit_matches(c.waiting_accept, chain, outside_pid)
                              ? 1
                              : 0;
      break;
    }
  }
  auto stranger = [&](const json& chain) {
    const json culprit = chain.value("culprit", json());
    // Only CPU contention can rightly name a stranger: an unrelated process takes CPUs, but it
    // cannot wake the workload's futexes or pipes, so such a waker is a capture or analysis error.
    if (traced_pids.empty() || !culprit.is_object()) return false;
    if (chain.value("category", "") != "cpu_contention") return false;
    const int pid = culprit.value("pid", -1);
    return pid != outside_pid &&
           std::find(traced_pids.begin(), traced_pids.end(), pid) == traced_pids.end();
  };
  if (c.expect == Expect::kTopChain) {
    if (chains.empty()) {
      v.got = "no chains";
      return v;
    }
    const json& top = chains[0];
    v.got = chain_text(top);
    v.blames_stranger = stranger(top);
    if (top.value("severity", "") == "low") return v;
    for (const Accept& a : c.accept) {
      if (top.value("category", "") != a.category) continue;
      if (!culprit_matches(a, top, outside_pid)) continue;
      if (!a.waker_comm.empty() && !waker_chain_has(top, a.waker_comm)) {
        v.got += " (waker chain lacks " + a.waker_comm + ")";
        continue;
      }
      v.correct = true;
    }
    if (v.correct) v.blames_stranger = false;
    return v;
  }
  // Healthy / no blame: every offending high chain is listed.
  v.correct = true;
  for (const json& chain : chains) {
    if (chain.value("severity", "") != "high") continue;
    if (c.expect == Expect::kNoBlame) {
      const json culprit = chain.value("culprit", json());
      if (!culprit.is_object()) continue;
      if (culprit.value("tid", -1) == chain.value("subject", json::object()).value("tid", -2)) {
        continue;
      }
    }
    if (v.correct) v.blames_stranger = stranger(chain);  // the first offending chain decides
    v.correct = false;
    v.got += (v.got.empty() ? "" : " | ") + chain_text(chain);
  }
  if (v.correct) {
    v.got = chains.empty() ? "no chains" : "top: " + chain_text(chains[0]);
  }
  return v;
}

double measured_share(const std::string& log, const std::string& key) {
  const size_t at = log.rfind("summary scenario=");
  if (at == std::string::npos) return -1;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  auto value = [&](const std::string& key) -> double {
    const size_t k = line.find(" " + key + "=");
    if (k == std::string::npos) return -1;
    return std::strtod(line.c_str() + k + key.size() + 2, nullptr);
  };
  const double waited = value(key + "_ms"), loop = value("loop_ms");
  return waited >= 0 && loop > 0 ? waited / loop : -1;
}

bool verify_available(const std::string& causeway) {
  return run_logged({causeway, "verify", "--help"}, "/dev/null") == 0;
}

CaseResult run_case(const Case& c, const RunConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  CaseResult r;
  const std::string loadavg = slurp("/proc/loadavg");
  r.load = loadavg.substr(0, loadavg.find(' '));
  const std::string base = config.out_dir + "/" + c.id;
  const std::string db = base + ".db";
  const std::string log = base + ".log";
  unlink(db.c_str());
  unlink((db + "-wal").c_str());
  unlink((db + "-shm").c_str());
  unlink(log.c_str());
  write_text(log, "# " + c.id + ": " + c.label + "\n# expected: " + c.expected_text() + "\n");

  Cgroup cgroup;
  std::vector<std::string> workload = {config.workload};
  if (!c.python_script.empty()) {
    workload = {"/usr/bin/python3", config.python_dir + "/" + c.python_script, "--cudart",
                config.cudart};
  }
  workload.insert(workload.end(), c.args.begin(), c.args.end());
  if (c.quota_us >= 0) {
    cgroup = make_cgroup("causeway-case-" + std::to_string(getpid()) + "-" + c.id, c.quota_us);
    if (!cgroup.path.empty()) {
      workload.push_back("--cgroup");
      workload.push_back(cgroup.path);
    } else {
      r.error = cgroup.error;
      return r;
    }
  }

  pid_t spinner = -1;
  if (c.outside_spinner) {
    std::vector<std::string> argv = {config.workload,
                                     "--family",
                                     "spinner",
                                     "--cpu",
                                     std::to_string(c.outside_cpu),
                                     "--nice",
                                     std::to_string(c.outside_nice),
                                     "--name",
                                     "spin-outside"};
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&spinner, args[0], nullptr, nullptr, args.data(), environ) != 0) {
      r.error = "cannot start the outside spinner";
      return r;
    }
    // Let it rename, pin and renice itself before the trace starts.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::string> trace = {config.causeway, "trace", "--db", db, "--"};
  trace.insert(trace.end(), workload.begin(), workload.end());
  const int traced = run_logged(trace, log);
  if (spinner > 0) {
    kill(spinner, SIGKILL);
    waitpid(spinner, nullptr, 0);
  }
  if (!cgroup.path.empty()) rmdir(cgroup.path.c_str());
  if (traced != 0) {
    r.error = "causeway trace exited " + std::to_string(traced) + " (see " + log + ")";
    r.db = db;
    return r;
  }

  const std::string explain_out = base + ".explain.json";
  const int explained =
      run_logged({"/bin/sh", "-c", "exec \"$0\" explain --db \"$1\" --json > \"$2\"",
                  config.causeway, db, explain_out},
                 log);
  const json parsed = json::parse(slurp(explain_out), nullptr, false);
  if (explained != 0 || parsed.is_discarded()) {
    r.error = "causeway explain exited " + std::to_string(explained) + " (see " + log + ")";
    r.db = db;
    return r;
  }
  // The traced processes, to tell a culprit the case started from one it did not.
  const std::string stats_out = base + ".stats.json";
  std::vector<int> traced_pids;
  if (run_logged({"/bin/sh", "-c", "exec \"$0\" stats --db \"$1\" --json > \"$2\"", config.causeway,
                  db, stats_out},
                 log) == 0) {
    const json stats = json::parse(slurp(stats_out), nullptr, false);
    if (!stats.is_discarded()) {
      for (const json& p : stats.value("processes", json::array())) {
        traced_pids.push_back(p.value("pid", -1));
      }
    }
  }
  unlink(stats_out.c_str());
  const std::string log_text = slurp(log);
  r.measured_share = measured_share(log_text);
  r.runnable_share = measured_share(log_text, "runnable");
  Case scored = c;
  if (c.expect == Expect::kTopChain && r.measured_share >= 0 && r.measured_share < kWeakShare) {
    r.weak = true;
    scored.expect = Expect::kNoHigh;
  }
  const Verdict v = judge(scored, parsed, spinner, traced_pids);
  r.ran = true;
  r.correct = v.correct;
  r.got = v.got;
  r.blames_stranger = v.blames_stranger;
  r.waiting_correct = v.waiting_correct;
  r.waiting_got = v.waiting_got;

  static const bool has_verify = verify_available(config.causeway);
  if (has_verify) {
    const std::string verify_log = base + ".verify.log";
    unlink(verify_log.c_str());
    r.verify_exit = run_logged({config.causeway, "verify", "--db", db}, verify_log);
    if (r.verify_exit != 0) r.verify_note = last_line(slurp(verify_log));
  }

  if (r.correct && r.waiting_correct != 0 && r.verify_exit <= 0 && !config.keep_passed) {
    unlink(db.c_str());
    unlink(explain_out.c_str());
    unlink(log.c_str());
  } else {
    r.db = db;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace causeway::bench

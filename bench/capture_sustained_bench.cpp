// Sustained capture: `causeway trace` (default options: stacks and syscall hooks on) of a
// workload issuing --rate CUDA calls per second (default 200,000, over --threads threads,
// default 2) for --seconds (default 10; the figure in docs/performance.md is --seconds 60)
// against the simulated runtime. Reports the achieved call rate, the events written per
// second, drops, and the tracer's peak RSS (VmHWM of the causeway process, sampled while it
// runs, and its own getrusage figure from the summary). Target (issue 3): 200,000 calls/s
// for 60 s with zero drops and RSS <= 150 MB on a 2-core machine.
// Needs root and BPF; says so and exits 0 without them (it is a benchmark, not a test).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const std::string kBuild = CAUSEWAY_BUILD_DIR;

// VmHWM of a process in kB, or -1 when it is gone.
long vm_hwm_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  double rate = 200000;
  int threads = 2;
  // Unknown flags are ignored: scripts/bench.sh passes the same arguments to every benchmark.
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    if (flag == "--rate") rate = std::atof(argv[i + 1]);
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
  }
  if (seconds <= 0 || rate <= 0 || threads < 1 || threads > 64) {
    std::fprintf(stderr,
                 "capture_sustained_bench: --seconds and --rate must be positive and --threads "
                 "between 1 and 64.\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::printf("capture_sustained_bench: skipped: needs root to load BPF programs.\n");
    return 0;
  }
  const std::string db = "/tmp/causeway-sustained-bench.db";
  const std::string out = "/tmp/causeway-sustained-bench.out";
  const std::string err = "/tmp/causeway-sustained-bench.err";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());

  char rate_s[32], secs_s[32], threads_s[16];
  std::snprintf(rate_s, sizeof(rate_s), "%.0f", rate);
  std::snprintf(secs_s, sizeof(secs_s), "%.1f", seconds);
  std::snprintf(threads_s, sizeof(threads_s), "%d", threads);
  const std::string causeway = kBuild + "/causeway";
  const std::string loop = kBuild + "/bench/cuda_call_loop";
  std::vector<std::string> args = {causeway, "trace", "--db",      db,     "--",        loop,
                                   "--rate", rate_s,  "--seconds", secs_s, "--threads", threads_s};
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr))
      _exit(127);
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    execv(av[0], av.data());
    _exit(127);
  }
  long hwm_kb = 0;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    long kb = vm_hwm_kb(pid);
    if (kb > hwm_kb) hwm_kb = kb;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("capture_sustained_bench: causeway trace failed:\n%s", read_all(err).c_str());
    return 1;
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  long calls = 0;
  double loop_secs = 0, achieved = 0;
  std::sscanf(read_all(out).c_str(), "calls %ld seconds %lf rate %lf", &calls, &loop_secs,
              &achieved);
  std::printf(
      "simulated cudaGetDevice at %.0f calls/s for %.0f s on %d threads, traced by "
      "`causeway trace` (defaults), load %.1f at the end:\n",
      rate, seconds, threads, load[0]);
  std::printf("  workload: %ld calls in %.2f s = %.0f calls/s achieved\n", calls, loop_secs,
              achieved);
  std::printf("  peak RSS of causeway (VmHWM, sampled every 200 ms): %.1f MB\n",
              static_cast<double>(hwm_kb) / 1024.0);
  // The tracer's own summary: events and rate, drops (the same counters as meta.drops), CPU.
  std::istringstream summary(read_all(err));
  std::string line;
  while (std::getline(summary, line)) {
    if (line.find("causeway: traced") != std::string::npos ||
        line.find("cuda calls") != std::string::npos ||
        line.find("dropped:") != std::string::npos || line.find("tracer:") != std::string::npos ||
        line.find("queue:") != std::string::npos)
      std::printf("  %s\n", line.c_str());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  return 0;
}

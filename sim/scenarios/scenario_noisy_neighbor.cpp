// Noisy neighbour: a training loop shares its CPU with a CPU-bound process ("backup", a forked
// child pinned to the same CPU). Every step the loop prepares the batch on the CPU, launches its
// kernels and synchronizes; with the neighbour running, the CPU work takes twice as long and the
// wake-up after each synchronize waits behind the neighbour's time slice, so steps stretch while
// the GPU idles.
//
// --healthy runs the same loop without the neighbour.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "scenario_common.h"

using namespace causeway::sim::scenario;

namespace {

bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;  // 0: the calling thread
}

[[noreturn]] void run_neighbour(int cpu) {
  prctl(PR_SET_NAME, "backup", 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // never outlive the training process
  pin_to_cpu(cpu);
  for (;;) burn_cpu_us(1000000);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t duration_ms = 2000;
  int64_t steps = 0;
  int64_t cpu = 0;
  int64_t host_work_us = 5000;
  int64_t neighbours = 1;
  int64_t kernel_threads = 1 << 21;
  bool healthy = false;
  Flags flags("scenario_noisy_neighbor",
              "Training loop preempted by a CPU-bound \"backup\" process pinned to its CPU.");
  flags.add_int("duration-ms", &duration_ms, "Stop after this many milliseconds (0: no limit).");
  flags.add_int("steps", &steps, "Stop after this many steps (0: no limit).");
  flags.add_int("cpu", &cpu, "CPU both the training thread and the neighbour are pinned to.");
  flags.add_int("host-work-us", &host_work_us, "CPU time per step preparing the batch, us.");
  flags.add_int("kernel-threads", &kernel_threads, "Threads per kernel (2 kernels per step).");
  flags.add_int("neighbours", &neighbours, "CPU-bound \"backup\" processes on that CPU.");
  flags.add_bool("healthy", &healthy, "Run without the neighbour process.");
  flags.parse(argc, argv);
  if (duration_ms == 0 && steps == 0) steps = 50;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpu >= cpus) {
    std::fprintf(stderr, "scenario_noisy_neighbor: --cpu %lld but this machine has %ld CPUs.\n",
                 static_cast<long long>(cpu), cpus);
    return 2;
  }

  // Fork before CUDA starts its threads, so each child is a plain single-threaded process.
  std::vector<pid_t> children;
  for (int64_t i = 0; !healthy && i < neighbours; ++i) {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child == 0) run_neighbour(static_cast<int>(cpu));
    children.push_back(child);
  }

  Tally tally;
  cudaStream_t stream = nullptr;
  // Initializes the runtime (and the device thread) while this thread is still unpinned, so
  // only the training thread shares the neighbour's CPU.
  SIM_CUDA(tally, cudaStreamCreate, &stream);
  if (!pin_to_cpu(static_cast<int>(cpu))) {
    std::perror("sched_setaffinity");
    return 1;
  }
  void* batch = nullptr;
  void* host_batch = nullptr;
  const size_t batch_bytes = 4 << 20;
  SIM_CUDA(tally, cudaMalloc, &batch, batch_bytes);
  SIM_CUDA(tally, cudaMallocHost, &host_batch, batch_bytes);

  const dim3 grid = grid_for(kernel_threads);
  const dim3 block(256);
  Deadline deadline(duration_ms);
  std::vector<double> step_ms;
  uint64_t checksum = 0;
  while ((steps == 0 || static_cast<int64_t>(step_ms.size()) < steps) && !deadline.passed()) {
    const double begin = deadline.elapsed_ms();
    checksum += burn_cpu_us(host_work_us);  // build the batch
    SIM_CUDA(tally, cudaMemcpyAsync, batch, host_batch, batch_bytes, cudaMemcpyHostToDevice,
             stream);
    tally.add_bytes("h2d", batch_bytes);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&forward_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&backward_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaStreamSynchronize, stream);
    step_ms.push_back(deadline.elapsed_ms() - begin);
  }
  const double wall = deadline.elapsed_ms();

  SIM_CUDA(tally, cudaFree, batch);
  SIM_CUDA(tally, cudaFreeHost, host_batch);
  SIM_CUDA(tally, cudaStreamDestroy, stream);
  std::string pids;
  for (pid_t child : children) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    if (!pids.empty()) pids += ',';
    pids += std::to_string(child);
  }
  std::sort(step_ms.begin(), step_ms.end());
  auto percentile = [&](double p) {
    if (step_ms.empty()) return 0.0;
    return step_ms[static_cast<size_t>(p * static_cast<double>(step_ms.size() - 1))];
  };
  char text[64];
  tally.set("mode", healthy ? "healthy" : "pathology");
  tally.set("steps", std::to_string(step_ms.size()));
  tally.set("cpu", std::to_string(cpu));
  tally.set("neighbour_pid", children.empty() ? "-1" : std::to_string(children.front()));
  tally.set("neighbour_pids", pids.empty() ? "none" : pids);
  tally.set("neighbour_comm", children.empty() ? "none" : "backup");
  std::snprintf(text, sizeof(text), "%.3f", percentile(0.5));
  tally.set("step_p50_ms", text);
  std::snprintf(text, sizeof(text), "%.3f", step_ms.empty() ? 0.0 : step_ms.back());
  tally.set("step_max_ms", text);
  tally.set("wall_ms", std::to_string(static_cast<int64_t>(wall)));
  tally.set("checksum", std::to_string(checksum % 1000));
  tally.print("noisy_neighbor");
  return 0;
}

// Allocator churn: every training step cudaMalloc()s its large activation buffers and
// cudaFree()s them at the end. cudaFree synchronizes the whole device and returns the memory to
// the OS, and the next step maps it again: the host stalls in cudaFree until the GPU drains, so
// the CPU work for the next step (--host-work-us) no longer overlaps with the GPU, and fresh
// memory is faulted in every step.
//
// --healthy allocates the buffers once and reuses them (what a caching allocator does); the CPU
// work then overlaps with the queued kernels and each step ends with one synchronize.
#include <algorithm>
#include <vector>

#include "scenario_common.h"

using namespace causeway::sim::scenario;

int main(int argc, char** argv) {
  int64_t duration_ms = 2000;
  int64_t steps = 0;
  int64_t buffer_mb = 64;
  int64_t buffers = 4;
  int64_t input_kb = 1024;
  int64_t kernel_threads = 1 << 20;
  int64_t host_work_us = 4000;
  bool healthy = false;
  Flags flags("scenario_alloc_churn",
              "Training loop that cudaMalloc/cudaFree's large buffers every step.");
  flags.add_int("duration-ms", &duration_ms, "Stop after this many milliseconds (0: no limit).");
  flags.add_int("steps", &steps, "Stop after this many steps (0: no limit).");
  flags.add_int("buffer-mb", &buffer_mb, "Size of each activation buffer, MiB.");
  flags.add_int("buffers", &buffers, "Activation buffers per step.");
  flags.add_int("input-kb", &input_kb, "Bytes copied host-to-device into each buffer, KiB.");
  flags.add_int("kernel-threads", &kernel_threads, "Threads per kernel (3 kernels per buffer).");
  flags.add_int("host-work-us", &host_work_us, "CPU time per step preparing the next one, us.");
  flags.add_bool("healthy", &healthy, "Allocate once and reuse the buffers.");
  flags.parse(argc, argv);
  if (duration_ms == 0 && steps == 0) steps = 20;
  if (buffers <= 0) buffers = 1;

  Tally tally;
  const size_t buffer_bytes = static_cast<size_t>(buffer_mb) << 20;
  const size_t input_bytes = std::min(static_cast<size_t>(input_kb) << 10, buffer_bytes);
  cudaStream_t stream = nullptr;
  SIM_CUDA(tally, cudaStreamCreate, &stream);
  void* input = nullptr;
  SIM_CUDA(tally, cudaMallocHost, &input, input_bytes);

  std::vector<void*> pool(static_cast<size_t>(buffers), nullptr);
  if (healthy) {
    for (void*& buffer : pool) SIM_CUDA(tally, cudaMalloc, &buffer, buffer_bytes);
  }

  const dim3 grid = grid_for(kernel_threads);
  const dim3 block(256);
  Deadline deadline(duration_ms);
  int64_t done = 0;
  uint64_t checksum = 0;
  while ((steps == 0 || done < steps) && !deadline.passed()) {
    for (void*& buffer : pool) {
      if (!healthy) SIM_CUDA(tally, cudaMalloc, &buffer, buffer_bytes);
      SIM_CUDA(tally, cudaMemcpyAsync, buffer, input, input_bytes, cudaMemcpyHostToDevice, stream);
      tally.add_bytes("h2d", input_bytes);
      SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&forward_kernel), grid, block,
               nullptr, 0, stream);
      SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&backward_kernel), grid,
               block, nullptr, 0, stream);
      SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&optimizer_kernel), grid,
               block, nullptr, 0, stream);
    }
    if (!healthy) {
      // The first free waits for the device to drain before any memory goes back.
      for (void*& buffer : pool) SIM_CUDA(tally, cudaFree, buffer);
      tally.add_bytes("allocated", buffer_bytes * pool.size());
      checksum += burn_cpu_us(host_work_us);  // the GPU idles meanwhile
    } else {
      checksum += burn_cpu_us(host_work_us);  // overlaps with the queued kernels
      SIM_CUDA(tally, cudaStreamSynchronize, stream);
    }
    ++done;
  }

  if (healthy) {
    for (void* buffer : pool) SIM_CUDA(tally, cudaFree, buffer);
    tally.add_bytes("allocated", buffer_bytes * pool.size());
  }
  SIM_CUDA(tally, cudaFreeHost, input);
  SIM_CUDA(tally, cudaStreamDestroy, stream);
  tally.set("mode", healthy ? "healthy" : "pathology");
  tally.set("steps", std::to_string(done));
  tally.set("checksum", std::to_string(checksum % 1000));
  tally.set("wall_ms", std::to_string(static_cast<int64_t>(deadline.elapsed_ms())));
  tally.print("alloc_churn");
  return 0;
}

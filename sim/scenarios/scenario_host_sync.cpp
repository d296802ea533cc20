// Host sync in the decode loop: an LLM-style decode loop that, for every generated token,
// copies the logprobs back to the host (cudaMemcpyAsync D2H, into pageable memory by default)
// and synchronizes the stream before sampling on the CPU. The GPU then idles while the CPU
// samples, and the CPU idles while the GPU computes: the pipeline is serialized.
//
// --healthy keeps sampling on the device: tokens are launched back to back and the logprobs of a
// whole chunk come back in one pinned copy with one synchronize per chunk.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "scenario_common.h"

using namespace causeway::sim::scenario;

int main(int argc, char** argv) {
  int64_t duration_ms = 2000;
  int64_t tokens = 0;
  int64_t vocab = 32000;
  int64_t kernel_threads = 200000;
  int64_t sample_us = 400;
  int64_t chunk = 32;
  bool pinned = false;
  bool healthy = false;
  Flags flags("scenario_host_sync",
              "Decode loop with a per-token logprobs copy to the host and a stream synchronize.");
  flags.add_int("duration-ms", &duration_ms, "Stop after this many milliseconds (0: no limit).");
  flags.add_int("tokens", &tokens, "Stop after this many tokens (0: no limit; alias --steps).");
  flags.add_int("steps", &tokens, "Same as --tokens.");
  flags.add_int("vocab", &vocab, "Vocabulary size: each token's logprobs are vocab floats.");
  flags.add_int("kernel-threads", &kernel_threads,
                "Threads per decode kernel (3 kernels per token; device time = threads x "
                "CAUSEWAY_SIM_NS_PER_THREAD ns).");
  flags.add_int("sample-us", &sample_us, "CPU time spent sampling each token, microseconds.");
  flags.add_int("chunk", &chunk, "--healthy: tokens per logprobs copy and synchronize.");
  flags.add_bool("pinned", &pinned, "Copy logprobs into pinned (cudaMallocHost) memory.");
  flags.add_bool("healthy", &healthy, "Run without the per-token host sync.");
  flags.parse(argc, argv);
  if (duration_ms == 0 && tokens == 0) tokens = 100;
  if (vocab <= 0) vocab = 1;
  if (chunk <= 0) chunk = 1;

  Tally tally;
  const size_t logprob_bytes = static_cast<size_t>(vocab) * sizeof(float);
  cudaStream_t stream = nullptr;
  SIM_CUDA(tally, cudaStreamCreate, &stream);
  const size_t device_rows = healthy ? static_cast<size_t>(chunk) : 1;
  void* device_logprobs = nullptr;
  SIM_CUDA(tally, cudaMalloc, &device_logprobs, logprob_bytes * device_rows);
  SIM_CUDA(tally, cudaMemsetAsync, device_logprobs, 0, logprob_bytes * device_rows, stream);

  float* host_logprobs = nullptr;
  std::vector<float> pageable;
  if (pinned || healthy) {
    void* p = nullptr;
    SIM_CUDA(tally, cudaMallocHost, &p, logprob_bytes * device_rows);
    host_logprobs = static_cast<float*>(p);
  } else {
    pageable.resize(static_cast<size_t>(vocab));
    host_logprobs = pageable.data();
  }

  const dim3 grid = grid_for(kernel_threads);
  const dim3 block(256);
  Deadline deadline(duration_ms);
  int64_t generated = 0;
  uint64_t checksum = 0;
  auto launch_token = [&](size_t row) {
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&attention_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&mlp_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&logits_kernel), grid, block,
             nullptr, 0, stream);
    (void)row;
  };

  while ((tokens == 0 || generated < tokens) && !deadline.passed()) {
    if (!healthy) {
      launch_token(0);
      SIM_CUDA(tally, cudaMemcpyAsync, host_logprobs, device_logprobs, logprob_bytes,
               cudaMemcpyDeviceToHost, stream);
      tally.add_bytes("d2h", logprob_bytes);
      SIM_CUDA(tally, cudaStreamSynchronize, stream);
      // Sampling on the CPU while the GPU has nothing to do.
      checksum += burn_cpu_us(sample_us);
      checksum += static_cast<uint64_t>(std::max_element(host_logprobs, host_logprobs + vocab) -
                                        host_logprobs);
      ++generated;
      continue;
    }
    int64_t in_chunk = 0;
    while (in_chunk < chunk && (tokens == 0 || generated + in_chunk < tokens)) {
      launch_token(static_cast<size_t>(in_chunk));
      ++in_chunk;
    }
    SIM_CUDA(tally, cudaMemcpyAsync, host_logprobs, device_logprobs,
             logprob_bytes * static_cast<size_t>(in_chunk), cudaMemcpyDeviceToHost, stream);
    tally.add_bytes("d2h", logprob_bytes * static_cast<size_t>(in_chunk));
    SIM_CUDA(tally, cudaStreamSynchronize, stream);
    checksum += burn_cpu_us(sample_us);  // one sampling pass per chunk, overlapping nothing
    generated += in_chunk;
  }

  SIM_CUDA(tally, cudaFree, device_logprobs);
  if (pinned || healthy) SIM_CUDA(tally, cudaFreeHost, host_logprobs);
  SIM_CUDA(tally, cudaStreamDestroy, stream);
  tally.set("mode", healthy ? "healthy" : "pathology");
  tally.set("host_memory", pinned || healthy ? "pinned" : "pageable");
  tally.set("tokens", std::to_string(generated));
  tally.set("wall_ms", std::to_string(static_cast<int64_t>(deadline.elapsed_ms())));
  tally.set("checksum", std::to_string(checksum % 1000));
  tally.print("host_sync");
  return 0;
}

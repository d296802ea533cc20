// Linked against NVIDIA's real libcudart.so.13 (RUNPATH $CAUSEWAY_CUDA_HOME/lib64; built only where
// a CUDA toolkit is found, compiled against sim/cuda_abi/ like every other workload). Without a GPU
// driver every call fails (typically cudaErrorInsufficientDriver, 35) — expected: capture tests
// use it to prove uprobes attach by symbol to NVIDIA's actual binary and record the return codes.
//
// usage: real_cudart_probe [--iterations N]   (default 3)
// Calls cudaGetDeviceCount, cudaMalloc, cudaMemcpy, cudaLaunchKernel, cudaStreamSynchronize and
// cudaFree N times each, then prints one summary line with the counts and the return codes.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>

namespace {

void probe_kernel() {}

std::map<std::string, std::set<int>> g_codes;

void note(const char* function, cudaError_t rc) {
  g_codes[function].insert(static_cast<int>(rc));
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      std::printf(
          "usage: real_cudart_probe [--iterations N]\nCalls six CUDA runtime functions "
          "N times each (default 3) against NVIDIA's libcudart.so.13 and prints the "
          "return codes.\n");
      return 0;
    }
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "real_cudart_probe: unknown argument '%s'; see --help.\n", argv[i]);
      return 2;
    }
  }
  char host[256] = {};
  for (long i = 0; i < iterations; ++i) {
    int count = -1;
    note("cudaGetDeviceCount", cudaGetDeviceCount(&count));
    void* device = nullptr;
    note("cudaMalloc", cudaMalloc(&device, sizeof(host)));
    note("cudaMemcpy", cudaMemcpy(device, host, sizeof(host), cudaMemcpyHostToDevice));
    note("cudaLaunchKernel", cudaLaunchKernel(reinterpret_cast<const void*>(&probe_kernel), dim3(1),
                                              dim3(32), nullptr, 0, nullptr));
    note("cudaStreamSynchronize", cudaStreamSynchronize(nullptr));
    note("cudaFree", cudaFree(device));
  }
  std::string line = "summary scenario=real_cudart_probe";
  for (const auto& [function, codes] : g_codes)
    line += " " + function + "=" + std::to_string(iterations);
  for (const auto& [function, codes] : g_codes) {
    line += " rc_" + function + "=";
    bool first = true;
    for (int code : codes) {
      if (!first) line += ',';
      line += std::to_string(code);
      first = false;
    }
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

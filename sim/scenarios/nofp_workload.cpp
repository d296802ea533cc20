// Calls the simulated CUDA runtime through three nested functions of its own, built with -O2
// -fomit-frame-pointer -g (sim/CMakeLists.txt): the stacks `causeway trace --call-graph fp`
// cannot walk and `--call-graph dwarf` can (tests/privileged/dwarf_stacks_trace_test.cpp finds
// the call lines by the "call-site:" markers below).
//
// usage: nofp_workload [--iterations N]   (default 20) prints "summary iterations=N".
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

volatile int g_sink = 0;  // keeps the work after each call, so no call becomes a tail jump

[[noreturn]] void fail(const char* what, cudaError_t e) {
  std::fprintf(stderr, "nofp_workload: %s failed (%d)\n", what, static_cast<int>(e));
  std::exit(1);
}

__attribute__((noinline, noclone)) void inner_sync(void* buffer) {
  cudaError_t e = cudaMemset(buffer, 0, 256);  // call-site: cudaMemset
  if (e != cudaSuccess) fail("cudaMemset", e);
  e = cudaDeviceSynchronize();  // call-site: cudaDeviceSynchronize
  if (e != cudaSuccess) fail("cudaDeviceSynchronize", e);
  g_sink = g_sink + 1;
}

__attribute__((noinline, noclone)) void middle_step(void* buffer, int i) {
  char scratch[64];  // a frame of its own, as real code has
  std::memset(scratch, i & 0xff, sizeof(scratch));
  inner_sync(buffer);  // call-site: inner_sync
  g_sink = g_sink + scratch[i % 64];
}

__attribute__((noinline, noclone)) void outer_step(void* buffer, int i) {
  middle_step(buffer, i);  // call-site: middle_step
  g_sink = g_sink + i;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  for (int i = 1; i < argc; i++) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::atoi(argv[i] + 13);
    } else {
      std::fprintf(stderr, "usage: nofp_workload [--iterations=N]\n");
      return 2;
    }
  }
  void* buffer = nullptr;
  cudaError_t e = cudaMalloc(&buffer, 256);  // call-site: cudaMalloc
  if (e != cudaSuccess) fail("cudaMalloc", e);
  for (int i = 0; i < iterations; i++) {
    outer_step(buffer, i);  // call-site: outer_step
  }
  e = cudaFree(buffer);
  if (e != cudaSuccess) fail("cudaFree", e);
  std::printf("summary iterations=%d\n", iterations);
  return 0;
}

// Calls the simulated CUDA runtime through three nested functions of its own, built with -O2
// -fomit-frame-pointer -g (sim/CMakeLists.txt): the stacks `causeway trace --call-graph fp`
// cannot walk and `--call-graph dwarf` can (tests/privileged/dwarf_stacks_trace_test.cpp finds
// the call lines by the "call-site:" markers below).
//
// With --gap-thread the loop runs on a thread of its own, below a frame that reserves two
// pages of stack it never writes (as the dynamic loader's and libc's start-up frames do): on
// a fresh thread stack those pages are not present, so BPF cannot copy them, and the unwinder
// must still reach the frames above them.
//
// usage: nofp_workload [--iterations=N] [--gap-thread]   (default 20) prints
// "summary iterations=N".
#include <cuda_runtime_api.h>
#include <pthread.h>

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

// Two pages (8 KiB) always contain one whole page, wherever the frame lands. Built with
// -fno-stack-clash-protection (sim/CMakeLists.txt), so nothing probes them either.
__attribute__((noinline, noclone)) void gap_frame(void* buffer, int iterations) {
  char gap[2 * 4096];
  asm volatile("" : : "r"(gap) : "memory");  // keeps the array without writing it
  for (int i = 0; i < iterations; i++) {
    outer_step(buffer, i);  // call-site: gap outer_step
  }
}

struct GapArgs {
  void* buffer;
  int iterations;
};

void* gap_thread(void* arg) {
  const auto* a = static_cast<const GapArgs*>(arg);
  gap_frame(a->buffer, a->iterations);  // call-site: gap_frame
  g_sink = g_sink + 1;
  return nullptr;
}

// A 256 KiB stack: far from a 2 MiB boundary, so no transparent huge page makes it present.
void run_in_gap_thread(void* buffer, int iterations) {
  GapArgs args{buffer, iterations};
  pthread_attr_t attr;
  pthread_t t;
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 256 * 1024) != 0 ||
      pthread_create(&t, &attr, gap_thread, &args) != 0 || pthread_join(t, nullptr) != 0) {
    std::fprintf(stderr, "nofp_workload: could not run the gap thread\n");
    std::exit(1);
  }
  pthread_attr_destroy(&attr);
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  bool gap = false;
  for (int i = 1; i < argc; i++) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::atoi(argv[i] + 13);
    } else if (std::strcmp(argv[i], "--gap-thread") == 0) {
      gap = true;
    } else {
      std::fprintf(stderr, "usage: nofp_workload [--iterations=N] [--gap-thread]\n");
      return 2;
    }
  }
  void* buffer = nullptr;
  cudaError_t e = cudaMalloc(&buffer, 256);  // call-site: cudaMalloc
  if (e != cudaSuccess) fail("cudaMalloc", e);
  if (gap) {
    run_in_gap_thread(buffer, iterations);
  } else {
    for (int i = 0; i < iterations; i++) {
      outer_step(buffer, i);  // call-site: outer_step
    }
  }
  e = cudaFree(buffer);
  if (e != cudaSuccess) fail("cudaFree", e);
  std::printf("summary iterations=%d\n", iterations);
  return 0;
}

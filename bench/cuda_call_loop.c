/* Workload for the capture-overhead benchmark: calls cudaGetDevice (a call that does no
 * device work, so the probe cost dominates) N times against the simulated runtime and
 * prints the mean wall time per call in ns. Usage: cuda_call_loop [N]. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n <= 0) {
    fprintf(stderr, "cuda_call_loop: N must be a positive number of calls.\n");
    return 2;
  }
  int device = 0;
  for (int i = 0; i < 1000; i++) cudaGetDevice(&device); /* warm-up: driver load, page faults */
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) cudaGetDevice(&device);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / (double)n);
  return 0;
}

/* Workload for the capture benchmarks: calls cudaGetDevice (a call that does no device work,
 * so the probe cost dominates) against the simulated runtime.
 *
 *   cuda_call_loop [N]
 *       N calls as fast as possible (after a warm-up); prints one line
 *       "<wall ns per call> <thread CPU ns per call>". The CPU time is the calling thread's
 *       own (user + kernel, where uprobe handlers and BPF programs run), so it does not
 *       depend on how busy the rest of the machine is; the wall time does.
 *   cuda_call_loop --rate CALLS_PER_S --seconds S [--threads T]
 *       Sustained load: T threads together issue CALLS_PER_S calls per second for S seconds,
 *       paced in 1 ms slices; prints "calls <n> seconds <s> rate <calls/s>" (achieved). */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int fast_loop(long n) {
  int device = 0;
  for (int i = 0; i < 1000; i++) cudaGetDevice(&device); /* warm-up: driver load, page faults */
  double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
  for (long i = 0; i < n; i++) cudaGetDevice(&device);
  double cpu1 = now_s(CLOCK_THREAD_CPUTIME_ID), wall1 = now_s(CLOCK_MONOTONIC);
  printf("%.1f %.1f\n", (wall1 - wall0) * 1e9 / (double)n, (cpu1 - cpu0) * 1e9 / (double)n);
  return 0;
}

struct paced {
  double rate;    /* calls per second for this thread */
  double seconds; /* how long */
  long calls;     /* out: calls made */
};

/* Calls at `rate` for `seconds`: every 1 ms slice owes rate/1000 calls; a thread behind
 * schedule catches up without sleeping, one ahead sleeps to the next slice. */
static void* paced_thread(void* arg) {
  struct paced* p = arg;
  int device = 0;
  const double start = now_s(CLOCK_MONOTONIC);
  long done = 0;
  for (;;) {
    double t = now_s(CLOCK_MONOTONIC) - start;
    if (t >= p->seconds) break;
    long owed = (long)(p->rate * (t + 0.001)) - done;
    if (owed <= 0) {
      struct timespec nap = {0, 200000}; /* 0.2 ms */
      nanosleep(&nap, NULL);
      continue;
    }
    for (long i = 0; i < owed; i++) cudaGetDevice(&device);
    done += owed;
  }
  p->calls = done;
  return NULL;
}

static int paced_loop(double rate, double seconds, int threads) {
  int device = 0;
  cudaGetDevice(&device); /* driver loaded before the clock starts */
  pthread_t tid[64];
  struct paced work[64];
  const double start = now_s(CLOCK_MONOTONIC);
  for (int i = 0; i < threads; i++) {
    work[i] = (struct paced){rate / threads, seconds, 0};
    if (pthread_create(&tid[i], NULL, paced_thread, &work[i]) != 0) {
      fprintf(stderr, "cuda_call_loop: cannot start thread %d.\n", i);
      return 1;
    }
  }
  long calls = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    calls += work[i].calls;
  }
  const double elapsed = now_s(CLOCK_MONOTONIC) - start;
  printf("calls %ld seconds %.2f rate %.0f\n", calls, elapsed, (double)calls / elapsed);
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: cuda_call_loop [N] | --rate CALLS_PER_S --seconds S [--threads T]\n"
          "  (N, CALLS_PER_S and S positive; T between 1 and 64)\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc <= 2 && (argc == 1 || argv[1][0] != '-')) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0) return usage();
    return fast_loop(n);
  }
  double rate = 0, seconds = 0;
  int threads = 1;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--rate") == 0)
      rate = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--seconds") == 0)
      seconds = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0)
      threads = atoi(argv[i + 1]);
    else
      return usage();
  }
  if (rate <= 0 || seconds <= 0 || threads < 1 || threads > 64) return usage();
  return paced_loop(rate, seconds, threads);
}

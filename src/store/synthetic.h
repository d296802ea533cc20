// A deterministic generator of realistic synthetic trace events, written through a Writer.
//
// Used by the ingest benchmark, the store tests (row-size measurement) and demos that need a
// trace without capture. The mix resembles a traced training/inference process: about half
// CUDA calls (launches, async copies, synchronizes, event records, allocations), a quarter
// thread-state intervals (running / preempted / blocked with wakers and preempters), syscalls
// (futex, read, write, ioctl), wakeups and a little block I/O, across a few processes and
// threads, with deduplicated stacks.
//
// Thread-safety: none; drives one Writer from one thread. Timestamps are absolute
// CLOCK_MONOTONIC-like ns starting at options.start_ns (use it as WriterOptions::origin_ns).
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "store/writer.h"

namespace causeway::store {

struct SyntheticOptions {
  uint64_t seed = 1;
  int processes = 2;
  int threads_per_process = 4;
  int stacks_per_process = 100;
  int64_t start_ns = 1'000'000'000;
  // Percentages of the event mix (the rest are wakeups); block I/O is ~1%.
  int cuda_percent = 50;
  int thread_state_percent = 25;
  int syscall_percent = 15;
};

struct SyntheticCounts {
  int64_t cuda_call = 0;
  int64_t thread_state = 0;
  int64_t syscall = 0;
  int64_t wakeup = 0;
  int64_t block_io = 0;
  int64_t total() const { return cuda_call + thread_state + syscall + wakeup + block_io; }
};

class SyntheticTrace {
 public:
  // Notes the processes and threads and interns names and stacks in `writer`, which must
  // outlive this object.
  SyntheticTrace(Writer& writer, const SyntheticOptions& options);

  // Adds the next `events` events; stops at and returns the first failure.
  Status add(int64_t events);

  const SyntheticCounts& counts() const { return counts_; }

 private:
  struct Task {
    int32_t pid = 0;
    int32_t tid = 0;
    int64_t clock_ns = 0;  // this thread's time cursor
    std::vector<StackId> stacks;
    std::vector<uint64_t> streams;
    std::vector<uint64_t> kernels;
  };
  uint64_t next_random();
  int64_t range(int64_t lo, int64_t hi);  // uniform in [lo, hi)

  Writer& writer_;
  SyntheticOptions options_;
  uint64_t rng_;
  std::vector<Task> tasks_;
  size_t next_task_ = 0;
  SyntheticCounts counts_;
  // Interned names.
  StringId launch_, memcpy_async_, stream_sync_, event_record_, malloc_, free_, memcpy_;
  std::vector<StringId> kernel_names_;
  StringId futex_, read_, write_, ioctl_;
};

}  // namespace causeway::store

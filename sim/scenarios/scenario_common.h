// Shared plumbing for the scenario workloads: flag parsing, counting CUDA calls for the one-line
// summary tests compare traced counts against, CPU busy-work, and stand-in kernel functions.
// Not thread-safe unless stated: each scenario makes its CUDA calls from one thread.
#pragma once

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace causeway::sim::scenario {

// A tiny flag parser: --name=value or --name value; --help prints usage and exits 0; an
// unknown flag or bad value prints one sentence to stderr and exits 2.
class Flags {
 public:
  Flags(std::string program, std::string description);
  void add_int(const std::string& name, int64_t* value, const std::string& help);
  void add_bool(const std::string& name, bool* value, const std::string& help);
  void add_string(const std::string& name, std::string* value, const std::string& help);
  void parse(int argc, char** argv);

 private:
  struct Flag {
    std::string name;
    std::string help;
    int64_t* int_value = nullptr;
    bool* bool_value = nullptr;
    std::string* string_value = nullptr;
  };
  [[noreturn]] void usage(int exit_code) const;
  std::string program_;
  std::string description_;
  std::vector<Flag> flags_;
};

// Counts CUDA calls by function name and bytes by direction, and exits(1) with a message on a
// CUDA error (a scenario that silently mis-behaves would make trace tests meaningless).
class Tally {
 public:
  cudaError_t check(const char* function, cudaError_t result);
  void add_bytes(const std::string& key, uint64_t bytes) { bytes_[key] += bytes; }
  void set(const std::string& key, const std::string& value) { extra_[key] = value; }
  uint64_t count(const std::string& function) const;
  // One line on stdout: "summary scenario=NAME key=value ...", counts under their CUDA names,
  // bytes as bytes_<key>, then the extra keys.
  void print(const std::string& scenario) const;

 private:
  std::map<std::string, uint64_t> calls_;
  std::map<std::string, uint64_t> bytes_;
  std::map<std::string, std::string> extra_;
};

// Calls a CUDA runtime function, counting it under its own name.
#define SIM_CUDA(tally, function, ...) (tally).check(#function, function(__VA_ARGS__))

// Burns `us` microseconds of this thread's CPU time (not wall time) doing arithmetic, like a
// decoder or a sampler would; returns a value so the work is not optimized away.
uint64_t burn_cpu_us(int64_t us);

// Deadline helper: true once `duration_ms` (> 0) has elapsed since construction.
class Deadline {
 public:
  explicit Deadline(int64_t duration_ms);
  bool passed() const;
  double elapsed_ms() const;

 private:
  std::chrono::steady_clock::time_point start_;
  int64_t duration_ms_;
};

// Stand-in kernels: distinct host functions whose addresses identify the kernels (the way
// nvcc's host stubs do). Never called.
void forward_kernel();
void backward_kernel();
void optimizer_kernel();
void attention_kernel();
void mlp_kernel();
void logits_kernel();

// A 1-D launch of `threads` threads in blocks of 256 (rounded up).
dim3 grid_for(int64_t threads);

}  // namespace causeway::sim::scenario

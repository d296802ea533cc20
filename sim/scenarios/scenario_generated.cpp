// Parameterised pathologies for the diagnosis-accuracy cases (bench/diagnosis_cases.h draws the
// parameters from a seed and knows the expected diagnosis). One program, one family per run:
//
//   contention  a GPU loop pinned to --cpu; a CPU spinner on a CPU (--spinner-cpu) at a nice
//               level, as a child process or a thread of this program (an untraced spinner
//               outside the tree is started by the driver with --family spinner); optionally a
//               "helper" thread that wakes often and preempts the loop briefly.
//   lock        a "logger" thread holds the mutex the GPU loop takes every step across
//               write+fdatasync, nanosleep or CPU work (--hold); healthy: the same work outside
//               the lock.
//   multihop    the GPU loop waits for a mutex that "relay" holds while it waits on "source"
//               (pipe or condition variable), which is slow (sleeping or spinning); healthy: relay
//               waits for source before taking the mutex.
//   loader      "ldr-N" threads produce samples (CPU decode, or file reads plus decode) into a
//               queue the GPU loop pops --batch samples from per step; healthy: cheap samples.
//   ranks       --ranks processes "rank-N" each run a GPU loop and exchange a token with every
//               other rank through pipes every step; a spinner shares --cpu with the slow rank.
//   timeout     the GPU loop (--timeout-in-loop) or a "poller" thread waits on a condition
//               variable nobody signals (5 ms timeouts) while a "bystander" thread works.
//   quota       a plain GPU loop that first moves itself into the cgroup --cgroup (the driver sets
//               its CPU quota).
//   spinner     no GPU work: burn CPU on --cpu at --nice, named --name, until killed.
//
// Every run prints the summary line of the other scenarios plus the pids the driver may need.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scenario_common.h"

using namespace causeway::sim::scenario;

namespace {

struct Options {
  std::string family;
  bool healthy = false;
  int64_t duration_ms = 1500;
  int64_t cpu = 0;
  int64_t host_work_us = 2000;
  int64_t kernel_threads = 1 << 20;
  // contention / ranks / spinner
  std::string spinner = "none";  // none | process | thread
  int64_t spinner_cpu = 0;
  std::string nice = "0";  // signed, so a string
  bool helper = false;
  int64_t helper_period_us = 3000;
  int64_t helper_burst_us = 300;
  std::string name = "spin-outside";
  // lock / multihop
  std::string hold = "sleep";  // io | sleep | spin
  int64_t hold_us = 4000;
  std::string hop = "pipe";  // pipe | condvar
  std::string data_dir = "/var/tmp";
  // loader
  int64_t loaders = 2;
  std::string load = "cpu";  // cpu | file
  int64_t decode_us = 3000;
  int64_t batch = 4;
  // ranks
  int64_t ranks = 2;
  int64_t slow_rank = 0;
  // timeout
  bool timeout_in_loop = false;
  int64_t timeout_us = 5000;
  // quota
  std::string cgroup;
};

int parse_nice(const std::string& text) {
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < -20 || value > 19) {
    std::fprintf(stderr, "scenario_generated: --nice takes -20..19, not '%s'.\n", text.c_str());
    std::exit(2);
  }
  return static_cast<int>(value);
}

pid_t gettid_now() {
  return static_cast<pid_t>(syscall(SYS_gettid));
}

bool pin_to_cpu(int64_t cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(cpu), &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;  // 0: the calling thread
}

// Every CPU but `cpu`, so tasks that must not compete with the pinned loop stay off its CPU.
void avoid_cpu(int64_t cpu) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (long i = 0; i < cpus; ++i) {
    if (i != cpu) CPU_SET(static_cast<int>(i), &set);
  }
  if (CPU_COUNT(&set) > 0) sched_setaffinity(0, sizeof(set), &set);
}

void name_thread(const std::string& name) {
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
}

// Nice applies per thread on Linux (PRIO_PROCESS with a tid); negative values need root, which
// tracing needs anyway.
void set_nice(int nice) {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid_now()), nice) != 0) {
    std::perror("setpriority");
  }
}

[[noreturn]] void spin_forever(int64_t cpu, int nice, const std::string& name) {
  name_thread(name);
  pin_to_cpu(cpu);
  set_nice(nice);
  for (;;) burn_cpu_us(1000000);
}

// A forked spinner that dies with its parent.
pid_t fork_spinner(int64_t cpu, int nice, const std::string& name) {
  const pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    spin_forever(cpu, nice, name);
  }
  return child;
}

void sleep_us(int64_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// One training step on the simulated GPU: build the batch on the CPU, copy it, run two kernels,
// wait for them.
class GpuLoop {
 public:
  explicit GpuLoop(const Options& o) : options_(o), grid_(grid_for(o.kernel_threads)) {
    SIM_CUDA(tally_, cudaStreamCreate, &stream_);
    SIM_CUDA(tally_, cudaMalloc, &device_, kBytes);
    SIM_CUDA(tally_, cudaMallocHost, &host_, kBytes);
  }
  ~GpuLoop() {
    SIM_CUDA(tally_, cudaFree, device_);
    SIM_CUDA(tally_, cudaFreeHost, host_);
    SIM_CUDA(tally_, cudaStreamDestroy, stream_);
  }
  GpuLoop(const GpuLoop&) = delete;
  GpuLoop& operator=(const GpuLoop&) = delete;

  void host_work() { checksum_ += burn_cpu_us(options_.host_work_us); }
  void gpu_work() {
    const dim3 block(256);
    SIM_CUDA(tally_, cudaMemcpyAsync, device_, host_, kBytes, cudaMemcpyHostToDevice, stream_);
    SIM_CUDA(tally_, cudaLaunchKernel, reinterpret_cast<const void*>(&forward_kernel), grid_, block,
             nullptr, 0, stream_);
    SIM_CUDA(tally_, cudaLaunchKernel, reinterpret_cast<const void*>(&backward_kernel), grid_,
             block, nullptr, 0, stream_);
    SIM_CUDA(tally_, cudaStreamSynchronize, stream_);
    ++steps_;
  }
  Tally& tally() { return tally_; }
  int64_t steps() const { return steps_; }
  uint64_t checksum() const { return checksum_; }

 private:
  static constexpr size_t kBytes = 256 << 10;
  const Options& options_;
  dim3 grid_;
  Tally tally_;
  cudaStream_t stream_ = nullptr;
  void* device_ = nullptr;
  void* host_ = nullptr;
  int64_t steps_ = 0;
  uint64_t checksum_ = 0;
};

// The calling thread's time spent runnable, waiting for a CPU (run_delay in
// /proc/thread-self/schedstat), ns; 0 when unavailable.
int64_t run_delay_ns() {
  std::FILE* f = std::fopen("/proc/thread-self/schedstat", "r");
  if (!f) return 0;
  unsigned long long on_cpu = 0, delay = 0;
  const int n = std::fscanf(f, "%llu %llu", &on_cpu, &delay);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(delay) : 0;
}

// The pathology's size as the workload itself measured it, the benchmark's ground truth for
// whether there is anything to find: the time the GPU loop spent in the wait the family
// creates (acquiring the lock, popping samples), and its time waiting for a CPU (whatever held
// it: the case's spinner or other load on the machine). Made on the loop's thread as it starts.
class WaitClock {
 public:
  WaitClock() : delay_start_(run_delay_ns()) {}
  // Runs `f` and counts its wall time as waiting.
  template <typename F>
  void time(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ns_ +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
  }
  // Takes `mu`, counting the time it took as waiting.
  template <typename Mutex>
  std::unique_lock<Mutex> lock(Mutex& mu) {
    std::unique_lock l(mu, std::defer_lock);
    time([&] { l.lock(); });
    return l;
  }
  int64_t ns() const { return ns_; }
  int64_t runnable_ns() const { return run_delay_ns() - delay_start_; }

 private:
  int64_t ns_ = 0;
  int64_t delay_start_;
};

// waited_ms / runnable_ms / loop_ms in the summary line (see WaitClock); `waited_ns` is the
// family's own wait.
void set_measured(GpuLoop& loop, int64_t waited_ns, const WaitClock& clock, double loop_ms) {
  loop.tally().set("waited_ms", std::to_string(waited_ns / 1'000'000));
  loop.tally().set("runnable_ms", std::to_string(clock.runnable_ns() / 1'000'000));
  loop.tally().set("loop_ms", std::to_string(static_cast<int64_t>(loop_ms)));
}

void print_summary(GpuLoop& loop, const Options& o, const std::string& extra_key,
                   const std::string& extra_value) {
  loop.tally().set("mode", o.healthy ? "healthy" : "pathology");
  loop.tally().set("steps", std::to_string(loop.steps()));
  loop.tally().set("pid", std::to_string(getpid()));
  loop.tally().set("checksum", std::to_string(loop.checksum() % 1000));
  if (!extra_key.empty()) loop.tally().set(extra_key, extra_value);
  loop.tally().print("generated_" + o.family);
}

int run_contention(const Options& o) {
  const int nice = parse_nice(o.nice);
  pid_t spinner_pid = -1;
  // Fork before CUDA starts its threads: the child is a plain single-threaded process.
  if (o.spinner == "process") spinner_pid = fork_spinner(o.spinner_cpu, nice, "spin-child");
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  if (o.spinner == "thread") {
    threads.emplace_back([&] {
      name_thread("spin-thread");
      pin_to_cpu(o.spinner_cpu);
      set_nice(nice);
      while (!stop) burn_cpu_us(1000);
    });
  }
  if (o.helper) {
    // Wakes often and, at a better nice level than the loop, preempts it at once for a short
    // burst: often the first task to switch in, never the one holding the CPU most.
    threads.emplace_back([&] {
      name_thread("helper");
      pin_to_cpu(o.cpu);
      set_nice(-5);
      while (!stop) {
        sleep_us(o.helper_period_us);
        burn_cpu_us(o.helper_burst_us);
      }
    });
  }
  {
    GpuLoop loop(o);  // initialised before pinning: the runtime's threads stay unpinned
    if (!pin_to_cpu(o.cpu)) {
      std::perror("sched_setaffinity");
      return 1;
    }
    Deadline deadline(o.duration_ms);
    const WaitClock clock;
    while (!deadline.passed()) {
      loop.host_work();
      loop.gpu_work();
    }
    set_measured(loop, clock.runnable_ns(), clock, deadline.elapsed_ms());
    stop = true;
    for (std::thread& t : threads) t.join();
    if (spinner_pid > 0) {
      kill(spinner_pid, SIGKILL);
      waitpid(spinner_pid, nullptr, 0);
    }
    print_summary(loop, o, "spinner_pid", std::to_string(spinner_pid));
  }
  return 0;
}

// Holds `mu` (when given) across the configured slow work: fdatasync of a small write, a sleep,
// or CPU work.
class SlowWork {
 public:
  explicit SlowWork(const Options& o) : options_(o) {
    if (o.hold == "io") {
      std::string pattern = o.data_dir + "/causeway-generated-XXXXXX";
      std::vector<char> path(pattern.begin(), pattern.end());
      path.push_back('\0');
      fd_ = mkstemp(path.data());
      if (fd_ < 0) {
        std::perror("mkstemp");
        std::exit(1);
      }
      unlink(path.data());  // removed when closed, even if the run is killed
    }
  }
  ~SlowWork() {
    if (fd_ >= 0) close(fd_);
  }
  SlowWork(const SlowWork&) = delete;
  SlowWork& operator=(const SlowWork&) = delete;

  void run() {
    if (options_.hold == "io") {
      char line[4096];
      std::memset(line, 'x', sizeof(line));
      if (write(fd_, line, sizeof(line)) < 0) std::perror("write");
      fdatasync(fd_);
      // A file that only grows would keep allocating blocks; rewind after 4 MiB.
      if (lseek(fd_, 0, SEEK_CUR) > (4 << 20)) lseek(fd_, 0, SEEK_SET);
    } else if (options_.hold == "spin") {
      checksum_ += burn_cpu_us(options_.hold_us);
    } else {
      sleep_us(options_.hold_us);
    }
  }

 private:
  const Options& options_;
  int fd_ = -1;
  uint64_t checksum_ = 0;
};

int run_lock(const Options& o) {
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::deque<int64_t> pending;
  SlowWork slow(o);
  std::thread logger([&] {
    name_thread("logger");
    avoid_cpu(o.cpu);
    while (!stop) {
      if (o.healthy) {
        {
          std::lock_guard lock(mu);
          pending.clear();
        }
        slow.run();
      } else {
        std::lock_guard lock(mu);  // the bug: flushing while holding the metrics lock
        pending.clear();
        slow.run();
      }
      sleep_us(300);
    }
  });
  {
    GpuLoop loop(o);
    pin_to_cpu(o.cpu);
    Deadline deadline(o.duration_ms);
    WaitClock waited;
    while (!deadline.passed()) {
      loop.host_work();
      loop.gpu_work();
      const auto lock = waited.lock(mu);  // record this step's metrics
      pending.push_back(loop.steps());
    }
    set_measured(loop, waited.ns(), waited, deadline.elapsed_ms());
    stop = true;
    logger.join();
    print_summary(loop, o, "hold", o.hold);
  }
  return 0;
}

int run_multihop(const Options& o) {
  std::mutex mu;      // what the GPU loop needs every step; relay holds it
  std::mutex hop_mu;  // condvar variant: relay waits on ready, source signals it
  std::condition_variable ready;
  int64_t tokens = 0;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::atomic<bool> stop{false};
  SlowWork slow(o);
  std::thread source([&] {
    name_thread("source");
    avoid_cpu(o.cpu);
    while (!stop) {
      slow.run();  // slow to produce
      if (o.hop == "pipe") {
        const char byte = 1;
        if (write(pipe_fds[1], &byte, 1) != 1) break;
      } else {
        std::lock_guard lock(hop_mu);
        ++tokens;
        ready.notify_one();
      }
    }
    close(pipe_fds[1]);  // relay's read returns 0; notify for the condvar variant
    std::lock_guard lock(hop_mu);
    tokens = -1;
    ready.notify_one();
  });
  auto wait_for_source = [&]() -> bool {
    if (o.hop == "pipe") {
      char byte = 0;
      return read(pipe_fds[0], &byte, 1) == 1;
    }
    std::unique_lock lock(hop_mu);
    ready.wait(lock, [&] { return tokens != 0; });
    if (tokens < 0) return false;
    --tokens;
    return true;
  };
  std::thread relay([&] {
    name_thread("relay");
    avoid_cpu(o.cpu);
    while (!stop) {
      if (o.healthy) {
        if (!wait_for_source()) break;
        std::lock_guard lock(mu);
      } else {
        std::lock_guard lock(mu);  // the bug: waiting for the source while holding mu
        if (!wait_for_source()) break;
      }
      sleep_us(200);
    }
  });
  {
    GpuLoop loop(o);
    pin_to_cpu(o.cpu);
    Deadline deadline(o.duration_ms);
    WaitClock waited;
    while (!deadline.passed()) {
      loop.host_work();
      loop.gpu_work();
      const auto lock = waited.lock(mu);
    }
    set_measured(loop, waited.ns(), waited, deadline.elapsed_ms());
    stop = true;
    source.join();
    relay.join();
    close(pipe_fds[0]);
    print_summary(loop, o, "hop", o.hop);
  }
  return 0;
}

// Bounded queue between the loaders and the GPU loop (a condition variable hand-off).
class SampleQueue {
 public:
  bool push(uint64_t sample) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return stopped_ || queue_.size() < kCapacity; });
    if (stopped_) return false;
    queue_.push_back(sample);
    not_empty_.notify_one();
    return true;
  }
  uint64_t pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    const uint64_t sample = queue_.front();
    queue_.pop_front();
    not_full_.notify_one();
    return sample;
  }
  void stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    not_full_.notify_all();
  }

 private:
  static constexpr size_t kCapacity = 4;
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<uint64_t> queue_;
  bool stopped_ = false;
};

// Writes a file for the loaders to read back with O_DIRECT (so reads reach the disk); falls back
// to buffered reads where O_DIRECT is refused.
std::string write_sample_file(const std::string& dir, size_t bytes) {
  std::string pattern = dir + "/causeway-samples-XXXXXX";
  std::vector<char> path(pattern.begin(), pattern.end());
  path.push_back('\0');
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    std::perror("mkstemp");
    std::exit(1);
  }
  std::vector<unsigned char> content(bytes);
  for (size_t i = 0; i < bytes; ++i) content[i] = static_cast<unsigned char>(i * 131);
  if (write(fd, content.data(), bytes) != static_cast<ssize_t>(bytes)) std::perror("write");
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  return path.data();
}

int run_loader(const Options& o) {
  constexpr size_t kSampleBytes = 128 << 10;
  constexpr size_t kFileBytes = 8 << 20;
  const bool from_file = o.load == "file";
  const std::string file = from_file ? write_sample_file(o.data_dir, kFileBytes) : "";
  // Healthy: the same loaders, but samples cost little, so the queue is always full.
  const int64_t decode_us = o.healthy ? 50 : o.decode_us;
  SampleQueue queue;
  std::atomic<bool> stop{false};
  std::vector<std::thread> loaders;
  for (int64_t i = 0; i < std::max<int64_t>(o.loaders, 1); ++i) {
    loaders.emplace_back([&, i] {
      name_thread("ldr-" + std::to_string(i));
      void* buffer = std::aligned_alloc(4096, kSampleBytes);
      int fd = -1;
      if (from_file) {
        fd = open(file.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
        if (fd < 0) fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
      }
      uint64_t n = static_cast<uint64_t>(i) * 7;
      while (!stop) {
        if (fd >= 0 && !o.healthy) {
          const off_t offset = static_cast<off_t>((n % (kFileBytes / kSampleBytes)) * kSampleBytes);
          if (pread(fd, buffer, kSampleBytes, offset) < 0) std::perror("pread");
        }
        ++n;
        if (!queue.push(burn_cpu_us(decode_us) + n)) break;
      }
      if (fd >= 0) close(fd);
      std::free(buffer);
    });
  }
  {
    GpuLoop loop(o);
    pin_to_cpu(o.cpu);
    Deadline deadline(o.duration_ms);
    uint64_t sum = 0;
    WaitClock waited;
    while (!deadline.passed()) {
      waited.time([&] {
        for (int64_t i = 0; i < std::max<int64_t>(o.batch, 1); ++i) sum += queue.pop();
      });
      loop.gpu_work();
    }
    set_measured(loop, waited.ns(), waited, deadline.elapsed_ms());
    stop = true;
    queue.stop();
    for (std::thread& t : loaders) t.join();
    if (!file.empty()) unlink(file.c_str());
    print_summary(loop, o, "samples_sum", std::to_string(sum % 1000));
  }
  return 0;
}

// One rank: its own GPU loop (CUDA starts after the fork), then every step a token to and from
// every other rank. The slow rank lives on --cpu, the others on the other CPUs.
[[noreturn]] void run_rank(const Options& o, int64_t rank, const std::vector<std::vector<int>>& to,
                           const std::vector<std::vector<int>>& from) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  name_thread("rank-" + std::to_string(rank));
  if (rank == o.slow_rank) {
    pin_to_cpu(o.cpu);
  } else {
    avoid_cpu(o.cpu);
  }
  int code = 0;
  {
    GpuLoop loop(o);
    Deadline deadline(o.duration_ms);
    const char token = 1;
    bool done = false;
    while (!done) {
      loop.host_work();
      loop.gpu_work();
      // Every rank must agree on when to stop, or one would wait for a token never sent: rank 0
      // decides, the decision rides on its token.
      char mine = rank == 0 && deadline.passed() ? 2 : token;
      for (int64_t peer = 0; peer < o.ranks; ++peer) {
        if (peer != rank && write(to[rank][peer], &mine, 1) != 1) code = 1;
      }
      for (int64_t peer = 0; peer < o.ranks; ++peer) {
        if (peer == rank) continue;
        char got = 0;
        if (read(from[rank][peer], &got, 1) != 1) {
          code = 1;
          done = true;
        }
        if (got == 2) done = true;
      }
      if (mine == 2) done = true;
    }
    if (rank == o.slow_rank) print_summary(loop, o, "slow_rank", std::to_string(rank));
  }
  std::_Exit(code);
}

int run_ranks(const Options& o) {
  const int nice = parse_nice(o.nice);
  const int64_t ranks = std::max<int64_t>(o.ranks, 2);
  Options rank_options = o;
  rank_options.ranks = ranks;
  // pipes[i][j]: rank i -> rank j.
  std::vector<std::vector<int>> to(ranks, std::vector<int>(ranks, -1));
  std::vector<std::vector<int>> from(ranks, std::vector<int>(ranks, -1));
  for (int64_t i = 0; i < ranks; ++i) {
    for (int64_t j = 0; j < ranks; ++j) {
      if (i == j) continue;
      int fds[2];
      if (pipe(fds) != 0) {
        std::perror("pipe");
        return 1;
      }
      to[i][j] = fds[1];
      from[j][i] = fds[0];
    }
  }
  pid_t spinner = -1;
  if (o.spinner == "process") spinner = fork_spinner(o.cpu, nice, "spin-child");
  std::vector<pid_t> children;
  for (int64_t r = 0; r < ranks; ++r) {
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child == 0) run_rank(rank_options, r, to, from);
    children.push_back(child);
  }
  for (int64_t i = 0; i < ranks; ++i) {
    for (int64_t j = 0; j < ranks; ++j) {
      if (to[i][j] >= 0) close(to[i][j]);
      if (from[i][j] >= 0) close(from[i][j]);
    }
  }
  int failed = 0;
  std::string pids;
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    pids += (pids.empty() ? "" : ",") + std::to_string(child);
  }
  if (spinner > 0) {
    kill(spinner, SIGKILL);
    waitpid(spinner, nullptr, 0);
  }
  std::printf("ranks pids=%s spinner_pid=%d failed=%d\n", pids.c_str(), spinner, failed);
  return failed == 0 ? 0 : 1;
}

int run_timeout(const Options& o) {
  std::mutex mu;
  std::condition_variable never_signalled;
  std::atomic<bool> stop{false};
  int64_t timeouts = 0;
  auto wait_once = [&] {
    std::unique_lock lock(mu);
    if (never_signalled.wait_for(lock, std::chrono::microseconds(o.timeout_us)) ==
        std::cv_status::timeout) {
      ++timeouts;
    }
  };
  std::vector<std::thread> threads;
  if (!o.timeout_in_loop) {
    threads.emplace_back([&] {
      name_thread("poller");
      while (!stop) wait_once();
    });
  }
  // Unrelated work that neither wakes nor blocks anyone.
  threads.emplace_back([&] {
    name_thread("bystander");
    avoid_cpu(o.cpu);
    while (!stop) {
      burn_cpu_us(1000);
      sleep_us(2000);
    }
  });
  {
    GpuLoop loop(o);
    pin_to_cpu(o.cpu);
    Deadline deadline(o.duration_ms);
    while (!deadline.passed()) {
      loop.host_work();
      loop.gpu_work();
      if (o.timeout_in_loop) wait_once();  // e.g. a stop flag polled with a timeout
    }
    stop = true;
    for (std::thread& t : threads) t.join();
    std::lock_guard lock(mu);
    print_summary(loop, o, "timeouts", std::to_string(timeouts));
  }
  return 0;
}

int run_quota(const Options& o) {
  if (!o.cgroup.empty()) {
    // Before CUDA starts its threads, so all of them are in the cgroup.
    const std::string procs = o.cgroup + "/cgroup.procs";
    FILE* f = std::fopen(procs.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%d\n", getpid()) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "scenario_generated: cannot join cgroup %s: %s\n", o.cgroup.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  GpuLoop loop(o);
  Deadline deadline(o.duration_ms);
  while (!deadline.passed()) {
    loop.host_work();
    loop.gpu_work();
  }
  print_summary(loop, o, "cgroup", o.cgroup.empty() ? "none" : o.cgroup);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Flags flags("scenario_generated",
              "Parameterised pathologies with known diagnoses (see bench/diagnosis_cases.h).");
  flags.add_string("family", &o.family,
                   "contention | lock | multihop | loader | ranks | timeout | quota | spinner");
  flags.add_bool("healthy", &o.healthy,
                 "The healthy twin (lock, multihop, loader; other families: marks the summary).");
  flags.add_int("duration-ms", &o.duration_ms, "How long the GPU loop runs, ms.");
  flags.add_int("cpu", &o.cpu, "CPU the GPU loop (ranks: the slow rank; spinner: it) runs on.");
  flags.add_int("host-work-us", &o.host_work_us, "CPU time per step before the GPU work, us.");
  flags.add_int("kernel-threads", &o.kernel_threads, "Threads per kernel (2 kernels per step).");
  flags.add_string("spinner", &o.spinner, "contention/ranks: none | process | thread.");
  flags.add_int("spinner-cpu", &o.spinner_cpu, "contention: CPU the spinner is pinned to.");
  flags.add_string("nice", &o.nice, "Nice level of the spinner (-20..19).");
  flags.add_bool("helper", &o.helper, "contention: a thread preempting the loop briefly.");
  flags.add_int("helper-period-us", &o.helper_period_us, "Helper: sleep between bursts, us.");
  flags.add_int("helper-burst-us", &o.helper_burst_us, "Helper: CPU burst, us.");
  flags.add_string("name", &o.name, "spinner: its thread name.");
  flags.add_string("hold", &o.hold, "lock/multihop: the slow work, io | sleep | spin.");
  flags.add_int("hold-us", &o.hold_us, "lock/multihop: duration of sleep or spin, us.");
  flags.add_string("hop", &o.hop, "multihop: how relay waits for source, pipe | condvar.");
  flags.add_string("data-dir", &o.data_dir, "Directory on a disk for io/file work.");
  flags.add_int("loaders", &o.loaders, "loader: loader threads.");
  flags.add_string("load", &o.load, "loader: cpu | file.");
  flags.add_int("decode-us", &o.decode_us, "loader: CPU time per sample, us.");
  flags.add_int("batch", &o.batch, "loader: samples per step.");
  flags.add_int("ranks", &o.ranks, "ranks: number of rank processes.");
  flags.add_int("slow-rank", &o.slow_rank, "ranks: the rank sharing --cpu with the spinner.");
  flags.add_bool("timeout-in-loop", &o.timeout_in_loop,
                 "timeout: the GPU loop itself does the timed waits.");
  flags.add_int("timeout-us", &o.timeout_us, "timeout: condition-variable timeout, us.");
  flags.add_string("cgroup", &o.cgroup, "quota: cgroup directory to join first.");
  flags.parse(argc, argv);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (o.cpu >= cpus || o.spinner_cpu >= cpus) {
    std::fprintf(stderr, "scenario_generated: CPU %lld but this machine has %ld CPUs.\n",
                 static_cast<long long>(std::max(o.cpu, o.spinner_cpu)), cpus);
    return 2;
  }
  if (o.family == "spinner") {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // an interrupted driver leaves no spinner behind
    spin_forever(o.cpu, parse_nice(o.nice), o.name);
  }
  if (o.family == "contention") return run_contention(o);
  if (o.family == "lock") return run_lock(o);
  if (o.family == "multihop") return run_multihop(o);
  if (o.family == "loader") return run_loader(o);
  if (o.family == "ranks") return run_ranks(o);
  if (o.family == "timeout") return run_timeout(o);
  if (o.family == "quota") return run_quota(o);
  std::fprintf(stderr, "scenario_generated: unknown --family '%s'; see --help.\n",
               o.family.c_str());
  return 2;
}

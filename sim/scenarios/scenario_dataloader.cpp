// Data-loader starvation: loader threads read sample files from disk (O_DIRECT, so every read
// reaches the block layer) and decode them on the CPU; the training loop waits on the sample
// queue (a condition variable) while the GPU idles, because loading a batch takes longer than
// computing on it.
//
// --healthy serves samples that were read and decoded once before training starts, so the
// queue is always full and the GPU is the bottleneck.
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "scenario_common.h"

using namespace causeway::sim::scenario;

namespace {

constexpr size_t kAlign = 4096;  // O_DIRECT needs block-aligned buffers, offsets and sizes

struct Sample {
  std::vector<unsigned char> bytes;
};

// Bounded queue between the loaders and the training loop.
class SampleQueue {
 public:
  explicit SampleQueue(size_t capacity) : capacity_(capacity) {}

  // Blocks while full; false once stopped.
  bool push(Sample sample) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return stopped_ || queue_.size() < capacity_; });
    if (stopped_) return false;
    queue_.push_back(std::move(sample));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty; *waited says whether it had to.
  Sample pop(bool* waited) {
    std::unique_lock lock(mu_);
    *waited = queue_.empty();
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    Sample sample = std::move(queue_.front());
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
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Sample> queue_;
  size_t capacity_;
  bool stopped_ = false;
};

struct LoaderStats {
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> direct_io{true};
};

// Reads one file so that the read reaches the disk: O_DIRECT where the file system supports it,
// otherwise dropping the file's cached pages first.
bool read_uncached(const std::string& path, unsigned char* buffer, size_t bytes,
                   LoaderStats* stats) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    stats->direct_io = false;
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = pread(fd, buffer + done, bytes - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  stats->reads++;
  stats->bytes += done;
  return done == bytes;
}

// "Decoding": CPU work proportional to the configured cost, plus touching every byte.
Sample decode(const unsigned char* raw, size_t bytes, int64_t decode_us) {
  Sample sample;
  sample.bytes.assign(raw, raw + bytes);
  uint64_t sum = burn_cpu_us(decode_us);
  for (unsigned char& byte : sample.bytes) {
    sum = sum * 31 + byte;
    byte = static_cast<unsigned char>(byte ^ (sum & 0xff));
  }
  return sample;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t duration_ms = 2000;
  int64_t steps = 0;
  int64_t loaders = 2;
  int64_t files = 32;
  int64_t sample_kb = 256;
  int64_t decode_us = 4000;
  int64_t batch = 4;
  int64_t prefetch = 4;
  int64_t kernel_threads = 1 << 21;
  std::string data_dir;
  bool healthy = false;
  Flags flags("scenario_dataloader",
              "Training loop starved by loader threads that read from disk and decode on the CPU.");
  flags.add_int("duration-ms", &duration_ms, "Stop after this many milliseconds (0: no limit).");
  flags.add_int("steps", &steps, "Stop after this many steps (0: no limit).");
  flags.add_int("loaders", &loaders, "Loader threads.");
  flags.add_int("files", &files, "Sample files written to the data directory.");
  flags.add_int("sample-kb", &sample_kb, "Size of each sample file, KiB (rounded up to 4 KiB).");
  flags.add_int("decode-us", &decode_us, "CPU time to decode one sample, microseconds.");
  flags.add_int("batch", &batch, "Samples per training step.");
  flags.add_int("prefetch", &prefetch, "Capacity of the sample queue.");
  flags.add_int("kernel-threads", &kernel_threads, "Threads per kernel (3 kernels per step).");
  flags.add_string("data-dir", &data_dir,
                   "Directory for the sample files (default: a new directory under $TMPDIR or "
                   "/var/tmp; it must be on a disk, not tmpfs, for reads to reach the block "
                   "layer).");
  flags.add_bool("healthy", &healthy, "Serve pre-decoded samples from memory.");
  flags.parse(argc, argv);
  if (duration_ms == 0 && steps == 0) steps = 50;
  if (loaders <= 0) loaders = 1;
  if (files <= 0) files = 1;
  if (batch <= 0) batch = 1;
  if (prefetch <= 0) prefetch = 1;
  const size_t sample_bytes =
      (static_cast<size_t>(std::max<int64_t>(sample_kb, 1)) * 1024 + kAlign - 1) / kAlign * kAlign;

  // Write the data set, then make sure none of it stays in the page cache.
  bool own_dir = false;
  if (data_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp") +
                          "/causeway-dataloader-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    data_dir = buffer.data();
    own_dir = true;
  }
  std::vector<std::string> paths;
  {
    std::mt19937_64 random(42);
    std::vector<unsigned char> content(sample_bytes);
    for (int64_t i = 0; i < files; ++i) {
      for (unsigned char& byte : content) byte = static_cast<unsigned char>(random());
      std::string path = data_dir + "/sample-" + std::to_string(i) + ".bin";
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 ||
          write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
        std::fprintf(stderr, "scenario_dataloader: cannot write %s: %s\n", path.c_str(),
                     std::strerror(errno));
        return 1;
      }
      fdatasync(fd);  // clean pages can be dropped
      posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      close(fd);
      paths.push_back(path);
    }
  }

  LoaderStats stats;
  std::vector<Sample> decoded_cache;
  if (healthy) {
    // Read and decode everything once, before training: the loop below never waits on disk.
    auto* raw = static_cast<unsigned char*>(std::aligned_alloc(kAlign, sample_bytes));
    for (const std::string& path : paths) {
      read_uncached(path, raw, sample_bytes, &stats);
      decoded_cache.push_back(decode(raw, sample_bytes, decode_us));
    }
    std::free(raw);
  }

  SampleQueue queue(static_cast<size_t>(prefetch));
  std::atomic<uint64_t> next_file{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < loaders; ++i) {
    threads.emplace_back([&, i] {
      std::string name = "loader-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      auto* raw = static_cast<unsigned char*>(std::aligned_alloc(kAlign, sample_bytes));
      while (!stop) {
        const uint64_t index = next_file++ % paths.size();
        Sample sample;
        if (healthy) {
          sample = decoded_cache[index];
        } else {
          if (!read_uncached(paths[index], raw, sample_bytes, &stats)) break;
          sample = decode(raw, sample_bytes, decode_us);
        }
        if (!queue.push(std::move(sample))) break;
      }
      std::free(raw);
    });
  }

  Tally tally;
  cudaStream_t stream = nullptr;
  SIM_CUDA(tally, cudaStreamCreate, &stream);
  const size_t batch_bytes = sample_bytes * static_cast<size_t>(batch);
  void* device_batch = nullptr;
  void* host_batch = nullptr;
  SIM_CUDA(tally, cudaMalloc, &device_batch, batch_bytes);
  SIM_CUDA(tally, cudaMallocHost, &host_batch, batch_bytes);

  const dim3 grid = grid_for(kernel_threads);
  const dim3 block(256);
  Deadline deadline(duration_ms);
  int64_t done = 0;
  uint64_t waits = 0;
  double wait_ms = 0;
  while ((steps == 0 || done < steps) && !deadline.passed()) {
    for (int64_t i = 0; i < batch; ++i) {
      bool waited = false;
      const double before = deadline.elapsed_ms();
      Sample sample = queue.pop(&waited);
      if (waited) {
        ++waits;
        wait_ms += deadline.elapsed_ms() - before;
      }
      std::memcpy(static_cast<unsigned char*>(host_batch) + static_cast<size_t>(i) * sample_bytes,
                  sample.bytes.data(), sample_bytes);
    }
    SIM_CUDA(tally, cudaMemcpyAsync, device_batch, host_batch, batch_bytes, cudaMemcpyHostToDevice,
             stream);
    tally.add_bytes("h2d", batch_bytes);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&forward_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&backward_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaLaunchKernel, reinterpret_cast<const void*>(&optimizer_kernel), grid, block,
             nullptr, 0, stream);
    SIM_CUDA(tally, cudaStreamSynchronize, stream);
    ++done;
  }
  const double wall = deadline.elapsed_ms();

  stop = true;
  queue.stop();
  for (std::thread& thread : threads) thread.join();
  SIM_CUDA(tally, cudaFree, device_batch);
  SIM_CUDA(tally, cudaFreeHost, host_batch);
  SIM_CUDA(tally, cudaStreamDestroy, stream);
  for (const std::string& path : paths) unlink(path.c_str());
  if (own_dir) rmdir(data_dir.c_str());

  char text[64];
  tally.set("mode", healthy ? "healthy" : "pathology");
  tally.set("steps", std::to_string(done));
  tally.set("loaders", std::to_string(loaders));
  tally.set("file_reads", std::to_string(stats.reads.load()));
  tally.set("file_bytes_read", std::to_string(stats.bytes.load()));
  tally.set("direct_io", stats.direct_io ? "1" : "0");
  tally.set("queue_waits", std::to_string(waits));
  std::snprintf(text, sizeof(text), "%.3f", wait_ms);
  tally.set("queue_wait_ms", text);
  tally.set("wall_ms", std::to_string(static_cast<int64_t>(wall)));
  tally.print("dataloader");
  return 0;
}

#include "store/synthetic.h"

#include <string>

namespace causeway::store {

SyntheticTrace::SyntheticTrace(Writer& writer, const SyntheticOptions& options)
    : writer_(writer), options_(options), rng_(options.seed * 0x9e3779b97f4a7c15ULL + 1) {
  launch_ = writer_.intern("cudaLaunchKernel");
  memcpy_async_ = writer_.intern("cudaMemcpyAsync");
  stream_sync_ = writer_.intern("cudaStreamSynchronize");
  event_record_ = writer_.intern("cudaEventRecord");
  malloc_ = writer_.intern("cudaMalloc");
  free_ = writer_.intern("cudaFree");
  memcpy_ = writer_.intern("cudaMemcpy");
  futex_ = writer_.intern("futex");
  read_ = writer_.intern("read");
  write_ = writer_.intern("write");
  ioctl_ = writer_.intern("ioctl");
  for (int k = 0; k < 24; ++k) {
    kernel_names_.push_back(writer_.intern("void synthetic_kernel_" + std::to_string(k) +
                                           "<float, 128>(float const*, float*, int)"));
  }
  for (int p = 0; p < options_.processes; ++p) {
    const int32_t pid = 4000 + p * 100;
    ProcessInfo proc;
    proc.pid = pid;
    proc.ppid = 1;
    proc.name = p == 0 ? "python3" : "worker";
    proc.cmdline = "python3 train.py --rank " + std::to_string(p);
    proc.traced = true;
    (void)writer_.note_process(proc);
    std::vector<StackId> stacks;
    for (int s = 0; s < options_.stacks_per_process; ++s) {
      std::vector<uint64_t> frames;
      const int depth = static_cast<int>(range(8, 32));
      for (int d = 0; d < depth; ++d) {
        frames.push_back(0x7f3a00000000ULL + static_cast<uint64_t>(range(0, 1 << 26)));
      }
      stacks.push_back(writer_.intern_stack(pid, frames));
    }
    for (int t = 0; t < options_.threads_per_process; ++t) {
      Task task;
      task.pid = pid;
      task.tid = pid + t;
      task.clock_ns = options_.start_ns + range(0, 1000);
      task.stacks = stacks;
      task.streams = {0, 0x55d012345670ULL + static_cast<uint64_t>(p) * 0x1000,
                      0x55d012346670ULL + static_cast<uint64_t>(p) * 0x1000};
      for (int k = 0; k < 24; ++k) task.kernels.push_back(0x55d000400000ULL + k * 0x140);
      ThreadInfo info;
      info.pid = pid;
      info.tid = task.tid;
      info.comm = t == 0 ? "python3" : "worker_" + std::to_string(t);
      info.traced = true;
      (void)writer_.note_thread(info);
      tasks_.push_back(std::move(task));
    }
  }
}

uint64_t SyntheticTrace::next_random() {
  // xorshift64*: fast and deterministic across platforms.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545f4914f6cdd1dULL;
}

int64_t SyntheticTrace::range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(next_random() % static_cast<uint64_t>(hi - lo));
}

Status SyntheticTrace::add(int64_t events) {
  for (int64_t i = 0; i < events; ++i) {
    Task& t = tasks_[next_task_];
    next_task_ = (next_task_ + 1) % tasks_.size();
    const int64_t pick = range(0, 100);
    Result<RowId> r = RowId{0};
    if (pick < options_.cuda_percent) {
      CudaCallRow c;
      c.ts_ns = t.clock_ns;
      c.pid = t.pid;
      c.tid = t.tid;
      c.stack = t.stacks[static_cast<size_t>(range(0, static_cast<int64_t>(t.stacks.size())))];
      const int64_t kind = range(0, 100);
      if (kind < 60) {  // kernel launch
        c.function = launch_;
        c.dur_ns = range(2'000, 9'000);
        const size_t k = static_cast<size_t>(range(0, 24));
        c.kernel_addr = t.kernels[k];
        c.kernel = kernel_names_[k];
        c.stream = t.streams[static_cast<size_t>(range(1, 3))];
        c.grid[0] = static_cast<uint32_t>(range(1, 4096));
        c.grid[1] = 1;
        c.grid[2] = 1;
        c.block[0] = 256;
        c.block[1] = 1;
        c.block[2] = 1;
      } else if (kind < 75) {  // async copy
        c.function = memcpy_async_;
        c.dur_ns = range(5'000, 400'000);
        c.bytes = range(4096, 64 << 20);
        c.copy_kind = static_cast<int32_t>(range(1, 3));
        c.stream = t.streams[static_cast<size_t>(range(1, 3))];
        c.device_ptr = 0x7f2000000000ULL + static_cast<uint64_t>(range(0, 1LL << 34));
        c.host_ptr = 0x7f3000000000ULL + static_cast<uint64_t>(range(0, 1LL << 32));
      } else if (kind < 85) {  // synchronize
        c.function = stream_sync_;
        c.dur_ns = range(10'000, 5'000'000);
        c.stream = t.streams[static_cast<size_t>(range(1, 3))];
      } else if (kind < 95) {  // event record
        c.function = event_record_;
        c.dur_ns = range(1'000, 4'000);
        c.stream = t.streams[static_cast<size_t>(range(1, 3))];
      } else if (kind < 98) {  // allocation churn
        c.function = kind < 97 ? malloc_ : free_;
        c.dur_ns = range(20'000, 2'000'000);
        c.bytes = kind < 97 ? std::optional<int64_t>(range(1 << 20, 256 << 20)) : std::nullopt;
        c.device_ptr = 0x7f2000000000ULL + static_cast<uint64_t>(range(0, 1LL << 34));
      } else {  // synchronous copy
        c.function = memcpy_;
        c.dur_ns = range(50'000, 3'000'000);
        c.bytes = range(4096, 16 << 20);
        c.copy_kind = 2;
        c.device_ptr = 0x7f2000000000ULL + static_cast<uint64_t>(range(0, 1LL << 34));
        c.host_ptr = 0x7f3000000000ULL + static_cast<uint64_t>(range(0, 1LL << 32));
      }
      t.clock_ns += c.dur_ns + range(500, 20'000);
      ++counts_.cuda_call;
      r = writer_.add(c);
    } else if (pick < options_.cuda_percent + options_.thread_state_percent) {
      ThreadStateRow s;
      s.ts_ns = t.clock_ns;
      s.pid = t.pid;
      s.tid = t.tid;
      s.cpu = static_cast<int32_t>(range(0, 2));
      const int64_t kind = range(0, 100);
      if (kind < 50) {
        s.state = ThreadState::kRunning;
        s.dur_ns = range(5'000, 2'000'000);
      } else if (kind < 65) {
        s.state = ThreadState::kRunnable;
        s.dur_ns = range(2'000, 3'000'000);
        s.preempter_pid = kind < 60 ? 812 : t.pid;
        s.preempter_tid = kind < 60 ? 812 : t.pid + 1;
      } else {
        s.state = kind < 95 ? ThreadState::kSleeping : ThreadState::kUninterruptible;
        s.kernel_state = kind < 95 ? 1 : 2;
        s.dur_ns = range(10'000, 10'000'000);
        s.syscall_nr = 202;
        s.waker_pid = t.pid;
        s.waker_tid = t.pid + static_cast<int32_t>(range(0, options_.threads_per_process));
        s.stack = t.stacks[static_cast<size_t>(range(0, static_cast<int64_t>(t.stacks.size())))];
      }
      t.clock_ns += s.dur_ns;
      ++counts_.thread_state;
      r = writer_.add(s);
    } else if (pick <
               options_.cuda_percent + options_.thread_state_percent + options_.syscall_percent) {
      SyscallRow s;
      s.ts_ns = t.clock_ns;
      s.pid = t.pid;
      s.tid = t.tid;
      const int64_t kind = range(0, 100);
      if (kind < 60) {
        s.nr = 202;
        s.name = futex_;
        s.dur_ns = range(1'000, 2'000'000);
        s.addr = 0x7f3100000000ULL + static_cast<uint64_t>(range(0, 64)) * 64;
        s.op = 128;
      } else if (kind < 80) {
        s.nr = 0;
        s.name = read_;
        s.dur_ns = range(2'000, 500'000);
        s.fd = range(3, 40);
        s.bytes = 1 << 20;
        s.ret = 1 << 20;
      } else if (kind < 90) {
        s.nr = 1;
        s.name = write_;
        s.dur_ns = range(2'000, 100'000);
        s.fd = range(1, 3);
        s.bytes = range(10, 200);
        s.ret = *s.bytes;
      } else {
        s.nr = 16;
        s.name = ioctl_;
        s.dur_ns = range(1'000, 50'000);
        s.fd = range(5, 12);
        s.op = 0xc0104601;
      }
      t.clock_ns += s.dur_ns;
      ++counts_.syscall;
      r = writer_.add(s);
    } else if (pick < 99) {
      WakeupRow w;
      w.ts_ns = t.clock_ns;
      w.wakee_pid = t.pid;
      w.wakee_tid = t.tid;
      w.waker_pid = t.pid;
      w.waker_tid = t.pid + static_cast<int32_t>(range(0, options_.threads_per_process));
      w.target_cpu = static_cast<int32_t>(range(0, 2));
      t.clock_ns += range(100, 2'000);
      ++counts_.wakeup;
      r = writer_.add(w);
    } else {
      BlockIoRow b;
      b.ts_ns = t.clock_ns;
      b.queue_ns = range(1'000, 100'000);
      b.service_ns = range(50'000, 2'000'000);
      b.dur_ns = b.queue_ns + b.service_ns;
      b.pid = t.pid;
      b.tid = t.tid;
      b.dev = (259u << 20) | 1u;
      b.sector = static_cast<uint64_t>(range(0, 1LL << 30));
      b.bytes = 1 << 17;
      b.op = 'R';
      ++counts_.block_io;
      r = writer_.add(b);
    }
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

}  // namespace causeway::store

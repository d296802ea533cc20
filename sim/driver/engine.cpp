// The simulated device. See engine.h for the contract and docs/simulated-gpu.md for the cost
// model this file implements.
#include "engine.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace causeway::sim {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

// Sleeps to an absolute deadline; the device spends its time asleep, never spinning, so the
// simulated GPU costs no CPU that would distort the workload's scheduling.
void sleep_until(int64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = deadline_ns / 1000000000;
  ts.tv_nsec = deadline_ns % 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// The per-thread default stream of the calling thread (CU_STREAM_PER_THREAD, or stream 0 in
// the _ptsz/_ptds entry points). Nothing queued refers to a stream, so it may die with its
// thread even while its work is pending.
CUstream per_thread_stream() {
  thread_local CUstream_st stream;
  return &stream;
}

// A non-negative finite number from the environment, or `fallback` when unset or malformed.
double read_env_number(const char* name, double fallback, bool allow_zero) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= 0.0) || std::isinf(value)) return fallback;
  if (value == 0.0 && !allow_zero) return fallback;
  return value;
}

// Copies a 2-D region row by row (a 1-D copy is one row).
void copy_rows(const Op& op) {
  auto* dst = static_cast<unsigned char*>(op.dst);
  const auto* src = static_cast<const unsigned char*>(op.src);
  for (size_t row = 0; row < op.height; ++row) {
    std::memcpy(dst + row * op.dst_pitch, src + row * op.src_pitch, op.width);
  }
}

}  // namespace

Engine& Engine::get() {
  static Engine* engine = new Engine();
  return *engine;
}

Engine::Engine()
    : ns_per_thread_(read_env_number("CAUSEWAY_SIM_NS_PER_THREAD", 1.0, true)),
      copy_bytes_per_ns_(read_env_number("CAUSEWAY_SIM_COPY_GBPS", 20.0, false)) {
  std::thread(&Engine::worker_main, this).detach();
}

uint64_t Engine::kernel_cost_ns(uint64_t threads) const {
  return static_cast<uint64_t>(std::llround(static_cast<double>(threads) * ns_per_thread_));
}

uint64_t Engine::copy_cost_ns(uint64_t bytes) const {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / copy_bytes_per_ns_));
}

CUstream Engine::resolve(CUstream handle, bool per_thread_default) {
  if (handle == nullptr) return per_thread_default ? per_thread_stream() : &legacy_stream_;
  if (handle == CU_STREAM_LEGACY) return &legacy_stream_;
  if (handle == CU_STREAM_PER_THREAD) return per_thread_stream();
  std::lock_guard lock(mu_);
  return streams_.count(handle) != 0 ? handle : nullptr;
}

CUstream Engine::create_stream(unsigned int flags) {
  auto* stream = new CUstream_st;
  stream->flags = flags;
  std::lock_guard lock(mu_);
  streams_.insert(stream);
  return stream;
}

bool Engine::destroy_stream(CUstream stream) {
  std::lock_guard lock(mu_);
  if (streams_.erase(stream) == 0) return false;
  // Work already queued still runs (CUDA semantics); ops do not point back at the stream.
  delete stream->capture;
  delete stream;
  return true;
}

bool Engine::capturing(CUstream stream) {
  std::lock_guard lock(mu_);
  return stream->capture != nullptr;
}

uint64_t Engine::submit_locked(CUstream stream, Op op) {
  if (stream->capture != nullptr) {
    stream->capture->ops.push_back(std::move(op));
    return 0;
  }
  op.submit_ns = monotonic_ns();
  op.seq = ++submitted_;
  stream->last_seq = op.seq;
  const uint64_t seq = op.seq;
  queue_.push_back(std::move(op));
  work_cv_.notify_one();
  return seq;
}

uint64_t Engine::submit(CUstream stream, Op op) {
  std::lock_guard lock(mu_);
  return submit_locked(stream, std::move(op));
}

void Engine::wait_locked(std::unique_lock<std::mutex>& lock, uint64_t seq) {
  if (completed_ >= seq) return;
  ++waiters_;
  done_cv_.wait(lock, [&] { return completed_ >= seq; });
  --waiters_;
}

void Engine::wait_for(uint64_t seq) {
  std::unique_lock lock(mu_);
  wait_locked(lock, seq);
}

void Engine::wait_for_all() {
  std::unique_lock lock(mu_);
  wait_locked(lock, submitted_);
}

CUresult Engine::synchronize_stream(CUstream stream) {
  std::unique_lock lock(mu_);
  if (stream->capture != nullptr) {
    stream->capture_invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  wait_locked(lock, stream->last_seq);
  return CUDA_SUCCESS;
}

CUresult Engine::query_stream(CUstream stream) {
  std::lock_guard lock(mu_);
  return completed_ >= stream->last_seq ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUevent Engine::create_event(unsigned int flags) {
  auto* event = new CUevent_st;
  event->flags = flags;
  std::lock_guard lock(mu_);
  events_.insert(event);
  return event;
}

bool Engine::destroy_event(CUevent event) {
  std::lock_guard lock(mu_);
  if (events_.erase(event) == 0) return false;
  delete event;  // a pending record keeps its EventTiming alive through the shared_ptr
  return true;
}

bool Engine::valid_event(CUevent event) {
  std::lock_guard lock(mu_);
  return events_.count(event) != 0;
}

void Engine::record_locked(CUevent event, CUstream stream) {
  Op op;
  op.kind = Op::Kind::kEventRecord;
  if (stream->capture != nullptr) {
    op.event = event;  // replayed by launch_graph as a fresh record of this event
    stream->capture->ops.push_back(std::move(op));
    return;
  }
  auto timing = std::make_shared<EventTiming>();
  op.timing = timing;
  event->timing = timing;
  event->record_seq = submit_locked(stream, std::move(op));
}

CUresult Engine::record_event(CUevent event, CUstream stream) {
  std::lock_guard lock(mu_);
  if (events_.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
  record_locked(event, stream);
  return CUDA_SUCCESS;
}

CUresult Engine::synchronize_event(CUevent event) {
  std::unique_lock lock(mu_);
  if (events_.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
  wait_locked(lock, event->record_seq);
  return CUDA_SUCCESS;
}

CUresult Engine::query_event(CUevent event) {
  std::lock_guard lock(mu_);
  if (events_.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
  return completed_ >= event->record_seq ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult Engine::elapsed_ms(CUevent start, CUevent end, float* ms) {
  std::lock_guard lock(mu_);
  if (events_.count(start) == 0 || events_.count(end) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (start->record_seq == 0 || end->record_seq == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (!start->timing->done || !end->timing->done) return CUDA_ERROR_NOT_READY;
  *ms = static_cast<float>(static_cast<double>(end->timing->device_ns - start->timing->device_ns) /
                           1e6);
  return CUDA_SUCCESS;
}

CUresult Engine::begin_capture(CUstream stream) {
  std::lock_guard lock(mu_);
  // CUDA cannot capture the legacy default stream.
  if (stream == &legacy_stream_) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (stream->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  stream->capture = new CUgraph_st;
  stream->capture_invalidated = false;
  return CUDA_SUCCESS;
}

CUresult Engine::end_capture(CUstream stream, CUgraph* graph) {
  std::lock_guard lock(mu_);
  if (stream->capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  CUgraph captured = stream->capture;
  stream->capture = nullptr;
  if (stream->capture_invalidated) {
    delete captured;
    *graph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  graphs_.insert(captured);
  *graph = captured;
  return CUDA_SUCCESS;
}

CUresult Engine::capture_status(CUstream stream, CUstreamCaptureStatus* status) {
  std::lock_guard lock(mu_);
  if (stream->capture == nullptr) {
    *status = CU_STREAM_CAPTURE_STATUS_NONE;
  } else {
    *status = stream->capture_invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                          : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  }
  return CUDA_SUCCESS;
}

CUresult Engine::instantiate(CUgraph graph, CUgraphExec* exec) {
  std::lock_guard lock(mu_);
  if (graphs_.count(graph) == 0) return CUDA_ERROR_INVALID_VALUE;
  auto* instance = new CUgraphExec_st;
  instance->ops = graph->ops;
  execs_.insert(instance);
  *exec = instance;
  return CUDA_SUCCESS;
}

CUresult Engine::destroy_graph(CUgraph graph) {
  std::lock_guard lock(mu_);
  if (graphs_.erase(graph) == 0) return CUDA_ERROR_INVALID_VALUE;
  delete graph;
  return CUDA_SUCCESS;
}

CUresult Engine::destroy_graph_exec(CUgraphExec exec) {
  std::lock_guard lock(mu_);
  if (execs_.erase(exec) == 0) return CUDA_ERROR_INVALID_VALUE;
  delete exec;
  return CUDA_SUCCESS;
}

CUresult Engine::launch_graph(CUgraphExec exec, CUstream stream) {
  std::lock_guard lock(mu_);
  if (execs_.count(exec) == 0) return CUDA_ERROR_INVALID_VALUE;
  for (const Op& node : exec->ops) {
    if (node.kind == Op::Kind::kEventRecord) {
      // An event destroyed since capture simply records nothing.
      if (events_.count(node.event) != 0) record_locked(node.event, stream);
      continue;
    }
    submit_locked(stream, node);
  }
  return CUDA_SUCCESS;
}

void* Engine::allocate(size_t bytes, MemoryKind kind) {
  // CUDA aligns device allocations to at least 256 bytes; host allocations to a page.
  const size_t alignment = kind == MemoryKind::kPinned ? 4096 : 256;
  void* ptr = nullptr;
  if (posix_memalign(&ptr, alignment, bytes) != 0) return nullptr;
  std::lock_guard lock(mem_mu_);
  allocations_[reinterpret_cast<uintptr_t>(ptr)] = Allocation{bytes, kind};
  return ptr;
}

bool Engine::unregister(void* ptr, bool pinned) {
  std::lock_guard lock(mem_mu_);
  auto it = allocations_.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == allocations_.end() || (it->second.kind == MemoryKind::kPinned) != pinned) return false;
  allocations_.erase(it);
  return true;
}

MemoryKind Engine::classify(const void* ptr, size_t bytes, bool* overrun) {
  *overrun = false;
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  std::lock_guard lock(mem_mu_);
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin()) return MemoryKind::kPageable;
  --it;
  const uintptr_t base = it->first;
  const size_t size = it->second.bytes;
  if (address >= base + size) return MemoryKind::kPageable;
  *overrun = bytes > size - (address - base);
  return it->second.kind;
}

void Engine::worker_main() {
  // Process-directed signals belong to the application's threads, not the device's.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "sim-gpu");
  // The default 50 us timer slack would stretch every short kernel; the model wants the
  // deadline itself.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return !queue_.empty(); });
    Op op = std::move(queue_.front());
    queue_.pop_front();
    // The device starts an op when it was submitted or when the previous one finished,
    // whichever is later: a backlog runs back to back on the virtual clock, so per-op wake-up
    // latency does not accumulate.
    const int64_t start = std::max(op.submit_ns, device_clock_ns_);
    lock.unlock();

    const int64_t work_begin = monotonic_ns();
    switch (op.kind) {
      case Op::Kind::kCopy:
        copy_rows(op);
        std::free(op.owned_staging);
        break;
      case Op::Kind::kMemset:
        for (size_t row = 0; row < op.height; ++row) {
          std::memset(static_cast<unsigned char*>(op.dst) + row * op.dst_pitch, op.value, op.width);
        }
        break;
      case Op::Kind::kFree:
        std::free(op.dst);
        break;
      case Op::Kind::kKernel:
      case Op::Kind::kEventRecord:
        break;
    }
    // Moving real bytes can take longer than the model allows; the op then lasts as long as the
    // host needed (never shorter than the model).
    const bool moves_bytes = op.kind == Op::Kind::kCopy || op.kind == Op::Kind::kMemset;
    const int64_t host_work_ns = moves_bytes ? monotonic_ns() - work_begin : 0;
    const int64_t end = start + std::max<int64_t>(static_cast<int64_t>(op.cost_ns), host_work_ns);
    if (end > monotonic_ns()) sleep_until(end);

    lock.lock();
    device_clock_ns_ = end;
    if (op.timing) {
      op.timing->device_ns = start;
      op.timing->done = true;
    }
    completed_ = op.seq;
    if (waiters_ > 0) done_cv_.notify_all();
  }
}

}  // namespace causeway::sim

// The simulated device: one worker thread that executes queued operations against a virtual
// device clock, plus the registries (allocations, streams, events) the driver API validates
// handles against. Internal to libcuda.so.1; the exported cu* functions in driver_api*.cpp are
// thin wrappers over this.
//
// Thread-safety: every member function of Engine may be called from any thread concurrently.
// Units: times are CLOCK_MONOTONIC nanoseconds, sizes are bytes.
#pragma once

#include <cuda.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace causeway::sim {

// Where the bytes an operation touches live; decides the copy path (see docs/simulated-gpu.md).
enum class MemoryKind : uint8_t {
  kDevice,    // cuMemAlloc / cuMemAllocAsync (host malloc standing in for device memory)
  kManaged,   // cuMemAllocManaged: device memory the host may also touch
  kPinned,    // cuMemAllocHost: page-locked host memory, DMA-able at full speed
  kPageable,  // anything else: ordinary host memory, staged through the calling thread
};

// Completion timestamp of one event record; shared by the event and the queued operation so
// re-recording or destroying the event never races with the worker.
struct EventTiming {
  int64_t device_ns = 0;  // device-clock time at which all preceding work had finished
  bool done = false;
};

// One unit of device work, as queued on a stream or stored in a captured graph.
struct Op {
  enum class Kind : uint8_t { kKernel, kCopy, kMemset, kEventRecord, kFree };
  Kind kind = Kind::kKernel;
  uint64_t cost_ns = 0;            // device occupancy from the cost model
  const void* function = nullptr;  // kKernel: the host function pointer identifying the kernel
  uint64_t threads = 0;            // kKernel: grid x block threads
  void* dst = nullptr;             // kCopy/kMemset destination; kFree: the allocation to release
  const void* src = nullptr;       // kCopy source
  size_t width = 0;                // bytes per row (a 1-D copy or memset is one row)
  size_t height = 1;               // rows
  size_t dst_pitch = 0;            // bytes between rows at dst
  size_t src_pitch = 0;            // bytes between rows at src
  int value = 0;                   // kMemset byte value
  void* owned_staging = nullptr;   // freed by the worker after the copy (H2D staging)
  CUevent event = nullptr;         // kEventRecord in a captured graph: the event handle
  std::shared_ptr<EventTiming> timing;  // kEventRecord when queued: where the worker writes
  int64_t submit_ns = 0;                // set by Engine::submit
  uint64_t seq = 0;                     // set by Engine::submit
};

}  // namespace causeway::sim

// The opaque handle types of cuda.h are defined here; cudart passes the same pointers
// (cudaStream_t is CUstream_st*, and so on).
struct CUstream_st {
  unsigned int flags = 0;
  uint64_t last_seq = 0;      // sequence number of the last op submitted to this stream
  CUgraph capture = nullptr;  // non-null while capturing
  bool capture_invalidated = false;
};

struct CUevent_st {
  unsigned int flags = 0;
  uint64_t record_seq = 0;  // 0: never recorded
  std::shared_ptr<causeway::sim::EventTiming> timing;
};

struct CUgraph_st {
  std::vector<causeway::sim::Op> ops;  // in capture order
};

struct CUgraphExec_st {
  std::vector<causeway::sim::Op> ops;
};

struct CUctx_st {
  int device = 0;
};

namespace causeway::sim {

class Engine {
 public:
  // The process-wide device. Never destroyed: the worker may still run while the process exits.
  static Engine& get();

  // Cost model parameters (docs/simulated-gpu.md), read once from the environment when the
  // device starts: CAUSEWAY_SIM_NS_PER_THREAD (default 1) and CAUSEWAY_SIM_COPY_GBPS (default 20;
  // 1 GB/s = 1 byte per nanosecond).
  double ns_per_thread() const { return ns_per_thread_; }
  double copy_bytes_per_ns() const { return copy_bytes_per_ns_; }
  uint64_t kernel_cost_ns(uint64_t threads) const;
  uint64_t copy_cost_ns(uint64_t bytes) const;

  // Streams. resolve() maps the special handles (0, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD)
  // and validates user handles; returns nullptr for an unknown handle.
  CUstream resolve(CUstream handle, bool per_thread_default);
  CUstream create_stream(unsigned int flags);
  bool destroy_stream(CUstream stream);

  bool capturing(CUstream stream);

  // Queues `op` on `stream` (or appends it to the stream's capture graph). Returns the op's
  // sequence number, 0 when it was captured instead of queued.
  uint64_t submit(CUstream stream, Op op);
  // Blocks (condition variable, no spinning) until op `seq` and everything before it completed.
  void wait_for(uint64_t seq);
  // Waits for everything submitted so far (cuCtxSynchronize, and the implicit synchronization
  // of cuMemFree / cuMemFreeHost).
  void wait_for_all();
  // Waits for the stream's last op. A capturing stream cannot be synchronized: the capture is
  // invalidated and CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED returned, as CUDA does.
  CUresult synchronize_stream(CUstream stream);
  // CUDA_SUCCESS when the stream's work is done, CUDA_ERROR_NOT_READY otherwise.
  CUresult query_stream(CUstream stream);

  // Events.
  CUevent create_event(unsigned int flags);
  bool destroy_event(CUevent event);
  bool valid_event(CUevent event);
  // Records `event` on `stream`; in capture mode the record becomes a graph node.
  CUresult record_event(CUevent event, CUstream stream);
  // Blocks until the event's latest record completed (immediately if never recorded).
  CUresult synchronize_event(CUevent event);
  CUresult query_event(CUevent event);
  // Milliseconds between two completed records, from the device clock.
  CUresult elapsed_ms(CUevent start, CUevent end, float* ms);

  // Graphs.
  CUresult begin_capture(CUstream stream);
  CUresult end_capture(CUstream stream, CUgraph* graph);
  CUresult capture_status(CUstream stream, CUstreamCaptureStatus* status);
  CUresult instantiate(CUgraph graph, CUgraphExec* exec);
  CUresult destroy_graph(CUgraph graph);
  CUresult destroy_graph_exec(CUgraphExec exec);
  CUresult launch_graph(CUgraphExec exec, CUstream stream);

  // Memory registry.
  void* allocate(size_t bytes, MemoryKind kind);
  // Removes the allocation starting exactly at `ptr` if it is host memory (`pinned` true) or
  // device/managed memory (`pinned` false); false if there is no such allocation.
  bool unregister(void* ptr, bool pinned);
  // Kind of the memory range [ptr, ptr+bytes): the allocation it starts in, or kPageable for
  // unknown host memory. Sets *overrun when the range runs past the end of that allocation.
  MemoryKind classify(const void* ptr, size_t bytes, bool* overrun);

 private:
  Engine();
  uint64_t submit_locked(CUstream stream, Op op);
  void record_locked(CUevent event, CUstream stream);
  void wait_locked(std::unique_lock<std::mutex>& lock, uint64_t seq);
  void worker_main();

  double ns_per_thread_ = 1.0;
  double copy_bytes_per_ns_ = 20.0;

  std::mutex mu_;
  std::condition_variable work_cv_;  // worker waits for ops
  std::condition_variable done_cv_;  // synchronizing callers wait for completions
  std::deque<Op> queue_;
  uint64_t submitted_ = 0;
  uint64_t completed_ = 0;
  int waiters_ = 0;
  int64_t device_clock_ns_ = 0;  // when the device finished (or will finish) its latest op
  std::unordered_set<CUstream> streams_;
  std::unordered_set<CUevent> events_;
  std::unordered_set<CUgraph> graphs_;
  std::unordered_set<CUgraphExec> execs_;
  CUstream_st legacy_stream_;

  std::mutex mem_mu_;
  struct Allocation {
    size_t bytes;
    MemoryKind kind;
  };
  std::map<uintptr_t, Allocation> allocations_;
};

int64_t monotonic_ns();

}  // namespace causeway::sim

// The live event source: the embedded BPF programs (bpf/, one skeleton), loaded and
// attached. Owns every BPF link; destroying it (or detach_all()) removes every probe.
// Thread-safety: poll() may run on one thread (capture's drain thread, DrainingSource) while
// one other thread calls the remaining methods: poll() touches only the ring, they touch
// maps and links. detach_all() and destruction only once poll() is no longer running.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture/event_source.h"
#include "capture/libraries.h"

struct causeway_bpf;
struct ring_buffer;
struct bpf_link;

namespace causeway::capture {

struct BpfConfig {
  bool stacks = true;           // user stacks on CUDA calls and blocking switches
  uint32_t ustack_bytes = 0;    // --call-graph dwarf: user stack bytes copied per stack (0 = fp)
  bool syscalls = true;         // record syscall rows
  bool block_io = true;         // block I/O hooks
  bool trace_all_cuda = false;  // --all: a CUDA call enrols its process
  bool stop_on_load = false;    // stop traced processes on library loads until probed
  uint64_t buffer_bytes = 16ull << 20;  // ring buffer size (rounded to a power of two)
  std::vector<int32_t> recorded_syscalls;
  int32_t tracer_pid = 0;  // never traced
};

// Probes attached to one CUDA library file.
struct LibraryProbes {
  CudaLibraryFile library;
  std::string build_id;
  std::string version;                     // from the resolved file name, e.g. "13.0.96"
  int attached_symbols = 0;                // symbols probed (entry + return each)
  std::vector<std::string> missing_bases;  // API functions with no variant in this library
};

class BpfSource final : public EventSource {
 public:
  // Loads the BPF programs and attaches the kernel hooks. `interrupted` aborts a long
  // attach when set (from a signal handler). Fails with a user-facing sentence.
  static Result<std::unique_ptr<BpfSource>> open(const BpfConfig& config,
                                                 const std::atomic<bool>* interrupted);
  ~BpfSource() override;

  // Adds a process (thread group) to the traced set.
  Status trace_pid(int32_t pid);
  // --all: the CUDA library `pid` opened has been probed; its loads no longer stop it.
  void clear_cuda_load_pending(int32_t pid);
  // Attaches entry/return probes to every known CUDA function present in `lib`.
  Result<LibraryProbes> attach_cuda_library(const CudaLibraryFile& lib);
  // Attaches the library-load hook (_dl_debug_state) of a dynamic loader file.
  Status attach_loader(const std::string& ld_path);

  Result<int64_t> poll(int timeout_ms, const RecordConsumer& consume) override;
  DropCounts drops() const override;

  // File descriptor of one of the skeleton's maps by name (-1 when absent), for modules
  // that keep per-process configuration in BPF (Python stacks: "py_procs").
  int map_fd(const char* name) const;

  // Context switches the machine made since the sched_switch program was attached that the
  // kernel did not report to it (a lower bound; see capture/context_switches.h); nullopt
  // when /proc/stat cannot be read or the hooks are already gone. Call before detach_all().
  std::optional<int64_t> unreported_switches() const;

  // Removes every probe and hook (idempotent).
  void detach_all();
  // Kernel hooks that could not be attached on this kernel (e.g. block_io_start), by name.
  const std::vector<std::string>& missing_hooks() const { return missing_hooks_; }
  int attached_links() const { return static_cast<int>(links_.size() + multi_link_fds_.size()); }
  bool uses_uprobe_multi() const { return uprobe_multi_; }

 private:
  BpfSource() = default;
  causeway_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<bpf_link*> links_;
  std::vector<int> multi_link_fds_;  // uprobe_multi links (raw fds: libbpf 1.1 predates them)
  bool uprobe_multi_ = false;        // kernel supports BPF_TRACE_UPROBE_MULTI (>= 6.6)
  std::vector<std::string> missing_hooks_;
  const std::atomic<bool>* interrupted_ = nullptr;
  const RecordConsumer* consumer_ = nullptr;
  bool stop_requested_ = false;
  // /proc/stat ctxt read just after the sched_switch program was attached.
  std::optional<int64_t> switches_at_attach_;
  static int on_record(void* ctx, void* data, size_t size);
};

}  // namespace causeway::capture

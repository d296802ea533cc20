#include "capture/bpf_source.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <sys/syscall.h>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "capture/context_switches.h"
#include "causeway.skel.h"

namespace causeway::capture {
namespace {

// libbpf's own messages: kept (last warning) for error sentences, printed only when
// CAUSEWAY_DEBUG is set.
std::string& last_libbpf_message() {
  static std::string msg;
  return msg;
}

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !getenv("CAUSEWAY_DEBUG")) return 0;
  char buf[1024];
  va_list copy;
  va_copy(copy, args);
  vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (level == LIBBPF_WARN) last_libbpf_message() = buf;
  if (getenv("CAUSEWAY_DEBUG")) fputs(buf, stderr);
  return 0;
}

uint64_t round_up_pow2(uint64_t v) {
  uint64_t p = 4096;
  while (p < v) p <<= 1;
  return p;
}

bool kernel_has_tracepoint(const btf* vmlinux, const char* name) {
  if (!vmlinux) return true;  // cannot tell: try and report
  std::string type = std::string("btf_trace_") + name;
  return btf__find_by_name_kind(vmlinux, type.c_str(), BTF_KIND_TYPEDEF) >= 0;
}

// BPF_TRACE_UPROBE_MULTI (Linux 6.6): one link attaches many uprobes of one file and,
// unlike per-probe perf-event links, detaches them all with one RCU grace period instead of
// one each (~100 ms per probe here). libbpf 1.1 and the 6.1 UAPI headers predate it, so the
// attach type and the link_create layout are spelled out.
constexpr uint32_t kAttachUprobeMulti = 48;
constexpr uint32_t kUprobeMultiReturn = 1;

int uprobe_multi_link_create(int prog_fd, const char* path, const std::vector<uint64_t>& offsets,
                             const std::vector<uint64_t>& cookies, bool retprobe) {
  alignas(8) unsigned char attr[144] = {};
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(attr + off, &v, sizeof(v)); };
  auto put64 = [&](size_t off, uint64_t v) { std::memcpy(attr + off, &v, sizeof(v)); };
  put32(0, static_cast<uint32_t>(prog_fd));                // link_create.prog_fd
  put32(8, kAttachUprobeMulti);                            // link_create.attach_type
  put64(16, reinterpret_cast<uintptr_t>(path));            // uprobe_multi.path
  put64(24, reinterpret_cast<uintptr_t>(offsets.data()));  // uprobe_multi.offsets
  put64(40, reinterpret_cast<uintptr_t>(cookies.data()));  // uprobe_multi.cookies
  put32(48, static_cast<uint32_t>(offsets.size()));        // uprobe_multi.cnt
  put32(52, retprobe ? kUprobeMultiReturn : 0);            // uprobe_multi.flags
  long fd = syscall(__NR_bpf, 28 /* BPF_LINK_CREATE */, attr, sizeof(attr));
  return fd < 0 ? -errno : static_cast<int>(fd);
}

}  // namespace

Result<std::unique_ptr<BpfSource>> BpfSource::open(const BpfConfig& config,
                                                   const std::atomic<bool>* interrupted) {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_print); });

  std::unique_ptr<BpfSource> src(new BpfSource());
  src->interrupted_ = interrupted;
  src->skel_ = causeway_bpf__open();
  if (!src->skel_) {
    return Status::Error("Cannot open the embedded BPF programs (" + std::string(strerror(errno)) +
                         ").");
  }
  auto* s = src->skel_;
  s->rodata->cfg_capture_stacks = config.stacks ? 1 : 0;
  s->rodata->cfg_ustack_bytes = config.stacks ? config.ustack_bytes : 0;
  s->rodata->cfg_trace_all_cuda = config.trace_all_cuda ? 1 : 0;
  s->rodata->cfg_stop_on_load = config.stop_on_load ? 1 : 0;
  s->rodata->cfg_tracer_tgid = static_cast<uint32_t>(config.tracer_pid);
  const uint64_t ring_bytes = round_up_pow2(config.buffer_bytes);
  bpf_map__set_max_entries(s->maps.events, static_cast<uint32_t>(ring_bytes));
  s->rodata->cfg_wakeup_bytes = ring_bytes / 16;

  // Hooks this kernel lacks, or that the user turned off, are not loaded at all.
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) {
    causeway_bpf__destroy(s);
    src->skel_ = nullptr;
    return Status::Error(
        "This kernel exposes no BTF (/sys/kernel/btf/vmlinux); causeway needs a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y.");
  }
  struct Optional {
    bpf_program* prog;
    const char* tracepoint;
    bool wanted;
  } optional[] = {
      {s->progs.blockio__start, "block_io_start", config.block_io},
      {s->progs.blockio__insert, "block_rq_insert", config.block_io},
      {s->progs.blockio__issue, "block_rq_issue", config.block_io},
      {s->progs.blockio__complete, "block_rq_complete", config.block_io},
      {s->progs.proc__oom_victim, "mark_victim", true},
      // Waker context and who held a CPU: without them wakers are whoever ran where the
      // wakeup completed, and timer expiries look like wakeups by the interrupted task.
      {s->progs.sched__waking, "sched_waking", true},
      {s->progs.sched__migrate, "sched_migrate_task", true},
      {s->progs.context__irq_entry, "irq_handler_entry", true},
      {s->progs.context__irq_exit, "irq_handler_exit", true},
      {s->progs.context__softirq_entry, "softirq_entry", true},
      {s->progs.context__softirq_exit, "softirq_exit", true},
      {s->progs.context__hrtimer_entry, "hrtimer_expire_entry", true},
      {s->progs.context__hrtimer_exit, "hrtimer_expire_exit", true},
      {s->progs.context__timer_entry, "timer_expire_entry", true},
      {s->progs.context__timer_exit, "timer_expire_exit", true},
  };
  for (auto& o : optional) {
    bool present = kernel_has_tracepoint(vmlinux, o.tracepoint);
    if (!present) src->missing_hooks_.push_back(o.tracepoint);
    if (!present || !o.wanted) bpf_program__set_autoload(o.prog, false);
  }
  src->uprobe_multi_ =
      !getenv("CAUSEWAY_NO_UPROBE_MULTI") &&
      btf__find_by_name_kind(vmlinux, "bpf_uprobe_multi_link", BTF_KIND_STRUCT) >= 0;
  if (src->uprobe_multi_) {
    for (bpf_program* prog :
         {s->progs.cuda__enter, s->progs.cuda__exit, s->progs.loader__link_map_changed})
      bpf_program__set_expected_attach_type(prog,
                                            static_cast<enum bpf_attach_type>(kAttachUprobeMulti));
  }
  btf__free(vmlinux);

  if (int err = causeway_bpf__load(s); err != 0) {
    std::string why = last_libbpf_message();
    while (!why.empty() && (why.back() == '\n')) why.pop_back();
    if (err == -EPERM || err == -EACCES) {
      return Status::Error(
          "Loading BPF programs was refused: run causeway as root (or with CAP_BPF, CAP_PERFMON "
          "and CAP_SYS_ADMIN).");
    }
    return Status::Error("Loading the BPF programs failed (" + std::string(strerror(-err)) + ")" +
                         (why.empty() ? "" : ": " + why) + ".");
  }

  // Syscall filter.
  if (config.syscalls) {
    uint8_t one = 1;
    for (int32_t nr : config.recorded_syscalls) {
      uint32_t key = static_cast<uint32_t>(nr);
      if (nr < 0 || nr >= CW_MAX_SYSCALL_NR) continue;
      bpf_map__update_elem(s->maps.syscall_filter, &key, sizeof(key), &one, sizeof(one), BPF_ANY);
    }
  }

  // Kernel hooks.
  bpf_program* kernel_progs[] = {
      s->progs.sched__switch,
      s->progs.sched__wakeup_existing,
      s->progs.sched__wakeup_new,
      s->progs.proc__fork,
      s->progs.proc__exec,
      s->progs.proc__exit,
      s->progs.proc__oom_victim,
      s->progs.syscalls__enter,
      s->progs.syscalls__exit,
      s->progs.blockio__start,
      s->progs.blockio__insert,
      s->progs.blockio__issue,
      s->progs.blockio__complete,
      s->progs.sched__waking,
      // Exits before entries: an entry seen without its exit would leave a CPU's nesting
      // count set (sched_switch also clears it, as no switch happens inside a handler).
      s->progs.sched__migrate,
      s->progs.context__irq_exit,
      s->progs.context__softirq_exit,
      s->progs.context__hrtimer_exit,
      s->progs.context__timer_exit,
      s->progs.context__irq_entry,
      s->progs.context__softirq_entry,
      s->progs.context__hrtimer_entry,
      s->progs.context__timer_entry,
  };
  for (bpf_program* prog : kernel_progs) {
    if (!bpf_program__autoload(prog)) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      return Status::Error("Attaching BPF program " + std::string(bpf_program__name(prog)) +
                           " failed (" + strerror(err) + ").");
    }
    src->links_.push_back(link);
    // The machine's switch count from here on is compared with what the program numbered.
    if (prog == s->progs.sched__switch) src->switches_at_attach_ = read_context_switches();
  }

  src->ring_ =
      ring_buffer__new(bpf_map__fd(s->maps.events), &BpfSource::on_record, src.get(), nullptr);
  if (!src->ring_) {
    return Status::Error("Cannot set up the BPF ring buffer (" + std::string(strerror(errno)) +
                         ").");
  }
  return src;
}

BpfSource::~BpfSource() {
  detach_all();
  if (ring_) ring_buffer__free(ring_);
  if (skel_) causeway_bpf__destroy(skel_);
}

std::optional<int64_t> BpfSource::unreported_switches() const {
  if (!skel_ || links_.empty()) return std::nullopt;
  // The machine's count first, then what the program saw: switches in between are seen but
  // not counted, which keeps the difference a lower bound.
  const std::optional<int64_t> now = read_context_switches();
  const int fd = bpf_map__fd(skel_->maps.cpu_watch);
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return std::nullopt;  // nothing seen would count every switch as unreported
  int64_t seen = 0;
  for (int cpu = 0; cpu < cpus; cpu++) {
    uint32_t key = static_cast<uint32_t>(cpu);
    cw_cpu_watch w{};
    if (bpf_map_lookup_elem(fd, &key, &w) == 0) seen += static_cast<int64_t>(w.seq);
  }
  return capture::unreported_switches(switches_at_attach_, now, seen);
}

void BpfSource::detach_all() {
  for (int fd : multi_link_fds_) close(fd);
  multi_link_fds_.clear();
  // Each perf-event uprobe waits for its own RCU grace period when it goes; destroying them
  // from many threads lets those waits overlap.
  const size_t n = links_.size();
  if (n > 8) {
    const size_t workers = std::min<size_t>(32, n);
    std::vector<std::thread> pool;
    for (size_t w = 0; w < workers; w++) {
      pool.emplace_back([this, w, workers, n] {
        for (size_t i = w; i < n; i += workers) bpf_link__destroy(links_[i]);
      });
    }
    for (auto& t : pool) t.join();
  } else {
    for (bpf_link* link : links_) bpf_link__destroy(link);
  }
  links_.clear();
}

Status BpfSource::trace_pid(int32_t pid) {
  uint32_t key = static_cast<uint32_t>(pid);
  uint8_t one = 1;
  if (bpf_map__update_elem(skel_->maps.traced_tgids, &key, sizeof(key), &one, sizeof(one),
                           BPF_ANY) != 0)
    return Status::Error("Cannot add pid " + std::to_string(pid) + " to the traced set (" +
                         strerror(errno) + ").");
  return Status::Ok();
}

void BpfSource::clear_cuda_load_pending(int32_t pid) {
  uint32_t key = static_cast<uint32_t>(pid);
  bpf_map__delete_elem(skel_->maps.cuda_load_pending, &key, sizeof(key), 0);
}

Result<LibraryProbes> BpfSource::attach_cuda_library(const CudaLibraryFile& lib) {
  auto syms = ElfSymbols::load(lib.open_path);
  if (!syms.ok()) return syms.status();
  LibraryProbes out;
  out.library = lib;
  out.build_id = syms->build_id();
  out.version = library_version(lib.open_path);
  const auto& table = CudaFunctionTable::builtin();
  std::string current_base;
  bool base_found = false;
  auto close_base = [&] {
    if (!current_base.empty() && !base_found) out.missing_bases.push_back(current_base);
  };
  std::vector<uint64_t> offsets, cookies;
  for (const auto& fn : table.functions()) {
    if (fn.base != current_base) {
      close_base();
      current_base = fn.base;
      base_found = false;
    }
    if (interrupted_ && interrupted_->load())
      return Status::Error("Interrupted while attaching probes.");
    auto offset = syms->offset_of(fn.name);
    if (!offset) continue;
    // Only functions of the library's own API count as missing; a runtime exporting a driver
    // name (or vice versa) is still probed.
    base_found = true;
    out.attached_symbols++;
    if (uprobe_multi_) {
      offsets.push_back(*offset);
      cookies.push_back(static_cast<uint64_t>(fn.id) | fn.cookie_flags);
      continue;
    }
    for (bool ret : {false, true}) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts);
      opts.retprobe = ret;
      opts.bpf_cookie = static_cast<uint64_t>(fn.id) | fn.cookie_flags;
      bpf_program* prog = ret ? skel_->progs.cuda__exit : skel_->progs.cuda__enter;
      bpf_link* link =
          bpf_program__attach_uprobe_opts(prog, -1, lib.open_path.c_str(), *offset, &opts);
      if (!link) {
        int err = errno;
        return Status::Error("Attaching a probe to " + fn.name + " in " + lib.path + " failed (" +
                             strerror(err) + ").");
      }
      links_.push_back(link);
    }
  }
  close_base();
  if (uprobe_multi_ && !offsets.empty()) {
    for (bool ret : {false, true}) {
      bpf_program* prog = ret ? skel_->progs.cuda__exit : skel_->progs.cuda__enter;
      int fd = uprobe_multi_link_create(bpf_program__fd(prog), lib.open_path.c_str(), offsets,
                                        cookies, ret);
      if (fd < 0) {
        return Status::Error("Attaching probes to " + lib.path + " failed (" + strerror(-fd) +
                             ").");
      }
      multi_link_fds_.push_back(fd);
    }
  }
  // Report only the library's own API as missing.
  const auto own = table.bases(lib.kind);
  std::vector<std::string> missing;
  for (const auto& base : out.missing_bases) {
    for (const auto& o : own) {
      if (o == base) {
        missing.push_back(base);
        break;
      }
    }
  }
  out.missing_bases = std::move(missing);
  return out;
}

Status BpfSource::attach_loader(const std::string& ld_path) {
  auto syms = ElfSymbols::load(ld_path);
  if (!syms.ok()) return syms.status();
  auto offset = syms->offset_of("_dl_debug_state");
  if (!offset)
    return Status::Error("The dynamic loader " + ld_path + " has no _dl_debug_state symbol.");
  if (uprobe_multi_) {
    int fd = uprobe_multi_link_create(bpf_program__fd(skel_->progs.loader__link_map_changed),
                                      ld_path.c_str(), {*offset}, {0}, false);
    if (fd < 0) {
      return Status::Error("Attaching the library-load hook to " + ld_path + " failed (" +
                           strerror(-fd) + ").");
    }
    multi_link_fds_.push_back(fd);
    return Status::Ok();
  }
  LIBBPF_OPTS(bpf_uprobe_opts, opts);
  bpf_link* link = bpf_program__attach_uprobe_opts(skel_->progs.loader__link_map_changed, -1,
                                                   ld_path.c_str(), *offset, &opts);
  if (!link) {
    int err = errno;
    return Status::Error("Attaching the library-load hook to " + ld_path + " failed (" +
                         strerror(err) + ").");
  }
  links_.push_back(link);
  return Status::Ok();
}

int BpfSource::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BpfSource*>(ctx);
  if (self->stop_requested_) return 0;
  if (!(*self->consumer_)(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size))) {
    self->stop_requested_ = true;
    return -ECANCELED;
  }
  return 0;
}

Result<int64_t> BpfSource::poll(int timeout_ms, const RecordConsumer& consume) {
  consumer_ = &consume;
  stop_requested_ = false;
  // Producers mostly skip the wakeup (see ring__wakeup_flags), so after waiting, consume
  // whatever is there whether or not a wakeup came.
  int n = ring_buffer__poll(ring_, timeout_ms);
  int m = stop_requested_ || n < 0 ? 0 : ring_buffer__consume(ring_);
  consumer_ = nullptr;
  if (stop_requested_) return int64_t{0};
  if (n < 0 && n != -EINTR)
    return Status::Error("Polling the BPF ring buffer failed (" + std::string(strerror(-n)) + ").");
  if (m < 0)
    return Status::Error("Reading the BPF ring buffer failed (" + std::string(strerror(-m)) + ").");
  return static_cast<int64_t>((n < 0 ? 0 : n) + m);
}

DropCounts BpfSource::drops() const {
  DropCounts out{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  for (uint32_t key = 0; key < CW_SRC_COUNT; key++) {
    if (bpf_map__lookup_elem(skel_->maps.drops, &key, sizeof(key), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0)
      continue;
    for (uint64_t v : values) out[key] += v;
  }
  return out;
}

int BpfSource::map_fd(const char* name) const {
  return skel_ ? bpf_object__find_map_fd_by_name(skel_->obj, name) : -1;
}

}  // namespace causeway::capture

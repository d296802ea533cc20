/* System calls of traced threads (raw_syscalls via BTF): entry stores the arguments in
 * syscalls_active[tid] (sched.bpf.c reads it to tie blocking to the syscall), exit emits
 * one event with the duration for the syscalls selected in syscall_filter. */
#include "causeway.bpf.h"

/* nr -> 1 when the syscall is recorded (set by capture; all 0 with --no-syscalls). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, CW_MAX_SYSCALL_NR);
  __type(key, __u32);
  __type(value, __u8);
} syscall_filter SEC(".maps");

/* uretprobe(2) (x86_64, Linux >= 6.11): the uretprobe trampoline's way back into the kernel,
 * i.e. every return of a probed CUDA call. Not a syscall of the program: skipped before any
 * map access, since it would otherwise double the per-call cost of the CUDA probes. The
 * number is unassigned on older kernels. */
#define CW_NR_URETPROBE 335

#define CW_NR_OPEN 2
#define CW_NR_OPENAT 257
#define CW_PATH_SCAN 192 /* bytes of an opened path examined for a CUDA library name */

/* Whether `path` (NUL-terminated within CW_PATH_SCAN) contains "/libcuda.so" or
 * "/libcudart.so", i.e. names the CUDA driver or runtime (the loader opens full paths). Each
 * position is tested on its own, so the verifier sees no state carried between iterations. */
static __always_inline bool path__is_cuda_library(const char* path) {
  for (int i = 0; i < CW_PATH_SCAN - 14; i++) {
    const char* p = path + i;
    if (p[0] == 0) break;
    if (p[0] != '/' || p[1] != 'l' || p[2] != 'i' || p[3] != 'b' || p[4] != 'c' || p[5] != 'u' ||
        p[6] != 'd' || p[7] != 'a')
      continue;
    if (p[8] == '.' && p[9] == 's' && p[10] == 'o') return true;
    if (p[8] == 'r' && p[9] == 't' && p[10] == '.' && p[11] == 's' && p[12] == 'o') return true;
  }
  return false;
}

/* --all: a process about to map a CUDA library is stopped at the loader's next link-map
 * change (loader.bpf.c) until capture has probed the library, so its first CUDA call is
 * recorded even when the library is one causeway could not know about up front (a pip
 * wheel, a private build). Costs a path read per open/openat while --all runs. */
static __always_inline void open__note_cuda_library(struct pt_regs* regs, long nr, __u32 tgid) {
  if (!cfg_trace_all_cuda || tgid == cfg_tracer_tgid) return;
  if (nr != CW_NR_OPENAT && nr != CW_NR_OPEN) return;
  const char* user_path = (const char*)(nr == CW_NR_OPENAT ? regs->si : regs->di);
  char path[CW_PATH_SCAN];
  if (bpf_probe_read_user_str(path, sizeof(path), user_path) <= 0) return;
  if (!path__is_cuda_library(path)) return;
  __u8 one = 1;
  bpf_map_update_elem(&cuda_load_pending, &tgid, &one, BPF_ANY);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(syscalls__enter, struct pt_regs* regs, long nr) {
  if (nr == CW_NR_URETPROBE) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  open__note_cuda_library(regs, nr, id >> 32);
  if (!tgid__is_traced(id >> 32)) return 0;
  __u32 tid = (__u32)id;
  struct cw_syscall_entry entry = {};
  entry.ts_ns = bpf_ktime_get_ns();
  entry.nr = nr;
  entry.args[0] = BPF_CORE_READ(regs, di);
  entry.args[1] = BPF_CORE_READ(regs, si);
  entry.args[2] = BPF_CORE_READ(regs, dx);
  entry.args[3] = BPF_CORE_READ(regs, r10);
  entry.args[4] = BPF_CORE_READ(regs, r8);
  entry.args[5] = BPF_CORE_READ(regs, r9);
  bpf_map_update_elem(&syscalls_active, &tid, &entry, BPF_ANY);
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscalls__exit, struct pt_regs* regs, long ret) {
  if (regs->orig_ax == CW_NR_URETPROBE) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!tgid__is_traced(tgid)) return 0;
  struct cw_syscall_entry* entry = bpf_map_lookup_elem(&syscalls_active, &tid);
  if (!entry) return 0;
  __u32 nr = (__u32)entry->nr;
  __u8* wanted = bpf_map_lookup_elem(&syscall_filter, &nr);
  if (wanted && *wanted) {
    struct cw_syscall* e = ring__reserve(sizeof(*e), CW_SRC_SYSCALL);
    if (e) {
      header__fill(&e->h, CW_EV_SYSCALL, entry->ts_ns, tgid, tid);
      e->dur_ns = bpf_ktime_get_ns() - entry->ts_ns;
      e->ret = ret;
      __builtin_memcpy(e->args, entry->args, sizeof(e->args));
      e->nr = entry->nr;
      e->_pad0 = 0;
      bpf_ringbuf_submit(e, ring__wakeup_flags());
    }
  }
  bpf_map_delete_elem(&syscalls_active, &tid);
  return 0;
}

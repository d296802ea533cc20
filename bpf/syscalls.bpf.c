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

SEC("tp_btf/sys_enter")
int BPF_PROG(syscalls__enter, struct pt_regs* regs, long nr) {
  __u64 id = bpf_get_current_pid_tgid();
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

/* Scheduling of traced threads: every context switch in which a traced task leaves or
 * takes a CPU, and every wakeup of a traced task (with the waker, traced or not). The
 * off-CPU reason comes from the switch (preempted vs the task's sleep state), the syscall
 * it was in from syscalls_active, and the user stack when it blocked. */
#include "causeway.bpf.h"
#include "pystack.bpf.h"
#include "ustack.bpf.h"

/* Scratch for the switch event: too big for the BPF stack. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cw_sched_switch);
} sched_scratch SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(sched__switch, bool preempt, struct task_struct* prev, struct task_struct* next,
             unsigned int prev_state) {
  __u32 prev_pid = prev->tgid, next_pid = next->tgid;
  bool prev_traced = tgid__is_traced(prev_pid);
  bool next_traced = tgid__is_traced(next_pid);
  if (!prev_traced && !next_traced) return 0;

  __u32 zero = 0;
  struct cw_sched_switch* e = bpf_map_lookup_elem(&sched_scratch, &zero);
  if (!e) return 0;
  __u32 prev_tid = prev->pid;
  header__fill(&e->h, CW_EV_SCHED_SWITCH, bpf_ktime_get_ns(), prev_pid, prev_tid);
  e->next_pid = next_pid;
  e->next_tid = next->pid;
  e->prev_state = prev_state;
  e->preempt = preempt;
  e->prev_traced = prev_traced;
  e->next_traced = next_traced;
  e->syscall_nr = -1;
  e->syscall_ts = 0;
  BPF_CORE_READ_STR_INTO(&e->prev_comm, prev, comm);
  BPF_CORE_READ_STR_INTO(&e->next_comm, next, comm);
  e->stack_depth = 0;
  if (prev_traced) {
    struct cw_syscall_entry* sc = bpf_map_lookup_elem(&syscalls_active, &prev_tid);
    if (sc) {
      e->syscall_nr = sc->nr;
      e->syscall_ts = sc->ts_ns;
    }
    /* current is still prev here: its user stack is where it blocked. */
    if (cfg_capture_stacks && !preempt && prev_state != 0) {
      /* The registers the thread had in user mode when it entered the kernel. The own walk
       * replaces bpf_get_stack, which faulted reading the frame rbp = 0 points to. */
      struct pt_regs* regs = (struct pt_regs*)bpf_task_pt_regs(bpf_get_current_task_btf());
      const __u64 ip = regs->ip, sp = regs->sp, bp = regs->bp;
      if (ip && ip < CW_USER_ADDR_END) {
        e->stack_depth = ustack__walk((struct cw_ustack_frames*)e->stack, ip, sp, bp, 0);
        if (cfg_ustack_bytes) {
          struct cw_ustack_regs r = {
              .r = {ip, sp, bp, regs->bx, regs->r12, regs->r13, regs->r14, regs->r15}};
          ustack__emit(&r, e->h.ts_ns, CW_STACK_FOR_BLOCK);
        }
      }
      pystack__emit(prev_pid, prev_tid, e->h.ts_ns, CW_PY_FOR_BLOCK); /* Python frames */
    }
  }
  __u32 depth = e->stack_depth;
  if (depth > CW_MAX_STACK) depth = CW_MAX_STACK;
  __u64 size = sizeof(*e) - sizeof(e->stack) + (__u64)depth * 8;
  if (bpf_ringbuf_output(&events, e, size, ring__wakeup_flags()) != 0) drops__count(CW_SRC_SCHED);
  return 0;
}

static __always_inline int sched__wakeup(struct task_struct* p, __u8 is_new) {
  __u32 wakee_pid = p->tgid;
  if (!tgid__is_traced(wakee_pid)) return 0;
  struct cw_wakeup* e = ring__reserve(sizeof(*e), CW_SRC_SCHED);
  if (!e) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  header__fill(&e->h, CW_EV_WAKEUP, bpf_ktime_get_ns(), id >> 32, (__u32)id);
  e->wakee_pid = wakee_pid;
  e->wakee_tid = p->pid;
  e->target_cpu = BPF_CORE_READ(p, wake_cpu);
  e->is_new = is_new;
  __builtin_memset(e->_pad0, 0, sizeof(e->_pad0));
  bpf_get_current_comm(e->waker_comm, sizeof(e->waker_comm));
  BPF_CORE_READ_STR_INTO(&e->wakee_comm, p, comm);
  bpf_ringbuf_submit(e, ring__wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched__wakeup_existing, struct task_struct* p) {
  return sched__wakeup(p, 0);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched__wakeup_new, struct task_struct* p) {
  return sched__wakeup(p, 1);
}

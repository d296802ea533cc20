/* Process lifecycle: fork/clone (children of traced processes join the traced set), exec,
 * exit (a process leaves the set when its last thread exits), and OOM kills (any victim). */
#include "causeway.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc__fork, struct task_struct* parent, struct task_struct* child) {
  __u32 parent_pid = parent->tgid;
  if (!tgid__is_traced(parent_pid)) return 0;
  __u32 child_pid = child->tgid;
  if (child_pid != parent_pid) {
    __u8 one = 1;
    bpf_map_update_elem(&traced_tgids, &child_pid, &one, BPF_ANY);
  }
  struct cw_fork* e = ring__reserve(sizeof(*e), CW_SRC_PROC);
  if (!e) return 0;
  header__fill(&e->h, CW_EV_FORK, bpf_ktime_get_ns(), parent_pid, parent->pid);
  e->child_pid = child_pid;
  e->child_tid = child->pid;
  BPF_CORE_READ_STR_INTO(&e->parent_comm, parent, comm);
  BPF_CORE_READ_STR_INTO(&e->child_comm, child, comm);
  bpf_ringbuf_submit(e, ring__wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc__exec, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
  __u32 pid = p->tgid;
  if (!tgid__is_traced(pid)) return 0;
  struct cw_exec* e = ring__reserve(sizeof(*e), CW_SRC_PROC);
  if (!e) return 0;
  header__fill(&e->h, CW_EV_EXEC, bpf_ktime_get_ns(), pid, p->pid);
  e->old_tid = old_pid;
  e->_pad0 = 0;
  BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
  const char* filename = BPF_CORE_READ(bprm, filename);
  bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
  bpf_ringbuf_submit(e, ring__wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc__exit, struct task_struct* p, bool group_dead) {
  __u32 pid = p->tgid;
  if (!tgid__is_traced(pid)) return 0;
  struct cw_exit* e = ring__reserve(sizeof(*e), CW_SRC_PROC);
  if (e) {
    header__fill(&e->h, CW_EV_EXIT, bpf_ktime_get_ns(), pid, p->pid);
    e->exit_code = BPF_CORE_READ(p, exit_code);
    e->group_dead = group_dead;
    __builtin_memset(e->_pad0, 0, sizeof(e->_pad0));
    BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
    bpf_ringbuf_submit(e, ring__wakeup_flags());
  }
  /* Its last switch-out still reaches us through the next task being traced or not; the
   * decoder closes intervals on exit, so leaving the set now loses nothing. */
  __u32 tid = p->pid;
  bpf_map_delete_elem(&syscalls_active, &tid);
  if (group_dead) bpf_map_delete_elem(&traced_tgids, &pid);
  return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(proc__oom_victim, struct task_struct* victim) {
  struct cw_oom_kill* e = ring__reserve(sizeof(*e), CW_SRC_PROC);
  if (!e) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  header__fill(&e->h, CW_EV_OOM_KILL, bpf_ktime_get_ns(), id >> 32, (__u32)id);
  e->victim_pid = victim->tgid;
  e->victim_tid = victim->pid;
  BPF_CORE_READ_STR_INTO(&e->victim_comm, victim, comm);
  bpf_ringbuf_submit(e, ring__wakeup_flags());
  return 0;
}

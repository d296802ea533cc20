/* Scheduling of traced threads: every context switch in which a traced task leaves or
 * takes a CPU, and every wakeup of a traced task with its waker seen in the waker's own
 * context (sched_waking) and how it came (task, interrupt, softirq, timer). The off-CPU
 * reason comes from the switch (preempted vs the task's sleep state), the syscall it was in
 * from syscalls_active, and the user stack when it blocked.
 *
 * Who held a CPU while a traced thread waited for it: every switch of every CPU is numbered
 * (cpu_watch.seq) and the CPU's current task kept; while a traced thread is queued
 * (runnable) on a CPU, the switches of other tasks there are recorded too, and the wakeup and
 * migration records say who ran on the wakee's CPU and at which switch number. User space
 * rebuilds who held the CPU from consecutive numbers only, so a missed switch leaves a gap,
 * never a wrong name. Cost for untraced switches on CPUs nobody traced waits for: two array
 * lookups and three stores. */
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

#define CW_MAX_CPUS 1024

/* Per CPU: struct cw_cpu_watch (include/causeway/abi/events.h). A plain array rather than a
 * per-CPU one because wakeups and migrations read and update another CPU's entry. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, CW_MAX_CPUS);
  __type(key, __u32);
  __type(value, struct cw_cpu_watch);
} cpu_watch SEC(".maps");

/* Traced threads queued on a CPU, waiting for it: tid -> CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u32);
} queued_on SEC(".maps");

/* The waker of a traced task, from sched_waking (waker's context) until the matching
 * sched_wakeup consumes it. LRU: a waking that never completes ages out. */
struct cw_pending_waker {
  __u64 ts;
  __u32 pid;
  __u32 tid;
  __u8 ctx; /* enum cw_waker_ctx */
  __u8 _pad0[7];
  char comm[CW_COMM_LEN];
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct cw_pending_waker);
} pending_wakers SEC(".maps");

/* What this CPU is running besides tasks, maintained by the interrupt, softirq and timer
 * tracepoints below: a wakeup issued inside one of them is not the interrupted task's doing.
 * (The CPU's preempt count would say this directly, but per-CPU kernel variables cannot be
 * read where kallsyms leaves them out, as on the kernels this is developed on.) Wakeups
 * from interrupts that have no tracepoint of their own (IPIs, irq_work) still look like the
 * interrupted task's. */
struct cw_cpu_context {
  __u32 hardirq; /* device interrupt handlers running (irq_handler_entry/exit) */
  __u32 softirq; /* softirq handlers running (softirq_entry/exit) */
  __u32 timer;   /* hrtimer and timer-wheel callbacks running */
  __u32 _pad0;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cw_cpu_context);
} cpu_context SEC(".maps");

static __always_inline struct cw_cpu_watch* cpu__watch(__u32 cpu) {
  if (cpu >= CW_MAX_CPUS) return 0;
  return bpf_map_lookup_elem(&cpu_watch, &cpu);
}

/* A traced thread is now queued on `cpu`. Already queued there (a wakeup of a thread that is
 * runnable): nothing changes. Recorded as queued elsewhere (it got a CPU unseen, or moved
 * without a migration record): the stale entry is moved, so a count never stays raised on a
 * CPU nobody waits for, and never misses one somebody does. */
static __always_inline void cpu__enqueue(__u32 tid, __u32 cpu) {
  struct cw_cpu_watch* w = cpu__watch(cpu);
  if (!w) return;
  __u32* q = bpf_map_lookup_elem(&queued_on, &tid);
  if (q) {
    if (*q == cpu) return;
    struct cw_cpu_watch* old = cpu__watch(*q);
    if (old) __sync_fetch_and_add(&old->waiters, -1);
    *q = cpu;
    __sync_fetch_and_add(&w->waiters, 1);
    return;
  }
  if (bpf_map_update_elem(&queued_on, &tid, &cpu, BPF_NOEXIST) == 0)
    __sync_fetch_and_add(&w->waiters, 1);
}

/* `tid` left the queue of the CPU it was waiting on (it got a CPU). */
static __always_inline void cpu__dequeue(__u32 tid) {
  __u32* q = bpf_map_lookup_elem(&queued_on, &tid);
  if (!q) return;
  struct cw_cpu_watch* w = cpu__watch(*q);
  if (w) __sync_fetch_and_add(&w->waiters, -1);
  bpf_map_delete_elem(&queued_on, &tid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched__switch, bool preempt, struct task_struct* prev, struct task_struct* next,
             unsigned int prev_state) {
  __u32 prev_pid = prev->tgid, next_pid = next->tgid;
  __u32 prev_tid = prev->pid, next_tid = next->pid;
  const __u32 cpu = bpf_get_smp_processor_id();
  struct cw_cpu_watch* w = cpu__watch(cpu);
  if (!w) return 0;
  const __u64 seq = w->seq + 1;
  /* Other CPUs read (seq, curr) without a lock (a wakeup records the target CPU's). Writing
   * curr first means a reader may see the new task with the old number, which user space
   * ignores once it knows that number, but never the new number with the old task, which
   * would name the wrong holder for the stretch that number starts. */
  w->curr_pid = next_pid;
  w->curr_tid = next_tid;
  asm volatile("" ::: "memory");
  w->seq = seq;
  /* Whether other tasks' switches here matter is decided before this switch's own queue
   * changes: the switch that hands the CPU to the last waiter is recorded anyway. */
  /* No context switch happens inside an interrupt, softirq or timer callback (on kernels
   * that run those in threads, a switch there ends the attribution early, which is safe): a
   * nesting count still set here lost its exit — at attach time, between the entry and exit
   * programs' attachments — and would brand every later wakeup on this CPU an interrupt's. */
  __u32 zero_key = 0;
  struct cw_cpu_context* cc = bpf_map_lookup_elem(&cpu_context, &zero_key);
  if (cc && (cc->hardirq | cc->softirq | cc->timer)) {
    cc->hardirq = 0;
    cc->softirq = 0;
    cc->timer = 0;
  }
  const bool watched = w->waiters > 0;
  /* The task getting this CPU leaves the queue it waited in. Looked up only where somebody
   * waits, to keep the hash lookup off the switches of CPUs with no waiter (every switch of
   * the machine comes here); a thread that got another CPU unseen keeps a stale entry, which
   * its next enqueue moves (cpu__enqueue), and meanwhile only makes its old CPU over-watched. */
  if (watched) cpu__dequeue(next_tid);

  bool prev_traced = tgid__is_traced(prev_pid);
  bool next_traced = tgid__is_traced(next_pid);
  if (prev_traced && prev_tid != 0 && (preempt || (prev_state & 0xff) == 0))
    cpu__enqueue(prev_tid, cpu); /* preempted: it waits for this CPU */
  if (!prev_traced && !next_traced && !watched) return 0;

  __u32 zero = 0;
  struct cw_sched_switch* e = bpf_map_lookup_elem(&sched_scratch, &zero);
  if (!e) return 0;
  header__fill(&e->h, CW_EV_SCHED_SWITCH, bpf_ktime_get_ns(), prev_pid, prev_tid);
  e->cpu_seq = seq;
  e->next_pid = next_pid;
  e->next_tid = next_tid;
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

SEC("tp_btf/sched_waking")
int BPF_PROG(sched__waking, struct task_struct* p) {
  if (!tgid__is_traced(p->tgid)) return 0;
  struct cw_pending_waker v = {};
  v.ts = bpf_ktime_get_ns();
  __u32 zero = 0;
  struct cw_cpu_context* cc = bpf_map_lookup_elem(&cpu_context, &zero);
  if (cc && cc->timer) {
    v.ctx = CW_WAKER_TIMER;
  } else if (cc && cc->hardirq) {
    v.ctx = CW_WAKER_HARDIRQ;
  } else if (cc && cc->softirq) {
    v.ctx = CW_WAKER_SOFTIRQ;
  } else {
    v.ctx = CW_WAKER_TASK;
    __u64 id = bpf_get_current_pid_tgid();
    v.pid = id >> 32;
    v.tid = (__u32)id;
    bpf_get_current_comm(v.comm, sizeof(v.comm));
  }
  __u32 tid = p->pid;
  bpf_map_update_elem(&pending_wakers, &tid, &v, BPF_ANY);
  return 0;
}

static __always_inline int sched__wakeup(struct task_struct* p, __u8 is_new) {
  __u32 wakee_pid = p->tgid;
  if (!tgid__is_traced(wakee_pid)) return 0;
  __u32 wakee_tid = p->pid;
  const __u32 cpu = BPF_CORE_READ(p, thread_info.cpu);
  /* A thread woken while still on its CPU (it had not finished going to sleep) never queues. */
  if (!BPF_CORE_READ(p, on_cpu)) cpu__enqueue(wakee_tid, cpu);
  struct cw_wakeup* e = ring__reserve(sizeof(*e), CW_SRC_SCHED);
  if (!e) return 0;
  const __u64 now = bpf_ktime_get_ns();
  struct cw_pending_waker* v = bpf_map_lookup_elem(&pending_wakers, &wakee_tid);
  if (v) {
    header__fill(&e->h, CW_EV_WAKEUP, now, v->pid, v->tid);
    e->waker_ctx = v->ctx;
    e->waking_ts = v->ts;
    __builtin_memcpy(e->waker_comm, v->comm, sizeof(e->waker_comm));
    bpf_map_delete_elem(&pending_wakers, &wakee_tid);
  } else {
    __u64 id = bpf_get_current_pid_tgid();
    header__fill(&e->h, CW_EV_WAKEUP, now, id >> 32, (__u32)id);
    e->waker_ctx = CW_WAKER_UNKNOWN;
    e->waking_ts = 0;
    bpf_get_current_comm(e->waker_comm, sizeof(e->waker_comm));
  }
  e->wakee_pid = wakee_pid;
  e->wakee_tid = wakee_tid;
  e->target_cpu = cpu;
  e->is_new = is_new;
  __builtin_memset(e->_pad0, 0, sizeof(e->_pad0));
  BPF_CORE_READ_STR_INTO(&e->wakee_comm, p, comm);
  struct cw_cpu_watch* w = cpu__watch(cpu);
  /* The number before the task (sched__switch writes them in the other order): a switch
   * racing with this read can then only pair the old number with the new task. */
  e->cpu_seq = w ? w->seq : 0;
  asm volatile("" ::: "memory");
  e->cpu_curr_pid = w ? w->curr_pid : 0;
  e->cpu_curr_tid = w ? w->curr_tid : 0;
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

/* A queued traced thread moved to another CPU's queue (load balancing, affinity). Moves of
 * sleeping tasks (chosen at wakeup) and of running ones (which are switched out first) are
 * not queue moves and are left to the wakeup and switch records. */
SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sched__migrate, struct task_struct* p, int dest_cpu) {
  if (!tgid__is_traced(p->tgid)) return 0;
  __u32 tid = p->pid;
  __u32* q = bpf_map_lookup_elem(&queued_on, &tid);
  if (!q) return 0;
  const __u32 orig = *q, dest = (__u32)dest_cpu;
  if (orig == dest) return 0;
  struct cw_cpu_watch* from = cpu__watch(orig);
  struct cw_cpu_watch* to = cpu__watch(dest);
  if (!to) return 0;
  if (from) __sync_fetch_and_add(&from->waiters, -1);
  __sync_fetch_and_add(&to->waiters, 1);
  *q = dest;
  struct cw_migrate* e = ring__reserve(sizeof(*e), CW_SRC_SCHED);
  if (!e) return 0;
  header__fill(&e->h, CW_EV_MIGRATE, bpf_ktime_get_ns(), p->tgid, tid);
  e->orig_cpu = orig;
  e->dest_cpu = dest;
  e->dest_curr_pid = to->curr_pid;
  e->dest_curr_tid = to->curr_tid;
  e->dest_seq = to->seq;
  bpf_ringbuf_submit(e, ring__wakeup_flags());
  return 0;
}

/* Interrupt, softirq and timer-callback nesting on this CPU: see cpu_context. An exit
 * whose entry came before the programs were attached finds the count at 0 and leaves it. */
static __always_inline __u32* context__slot(int which) {
  __u32 zero = 0;
  struct cw_cpu_context* cc = bpf_map_lookup_elem(&cpu_context, &zero);
  if (!cc) return 0;
  return which == 0 ? &cc->hardirq : which == 1 ? &cc->softirq : &cc->timer;
}

static __always_inline void context__enter(int which) {
  __u32* n = context__slot(which);
  if (n) *n += 1;
}

static __always_inline void context__leave(int which) {
  __u32* n = context__slot(which);
  if (n && *n > 0) *n -= 1;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(context__irq_entry, int irq, struct irqaction* action) {
  context__enter(0);
  return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(context__irq_exit, int irq, struct irqaction* action, int ret) {
  context__leave(0);
  return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(context__softirq_entry, unsigned int vec) {
  context__enter(1);
  return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(context__softirq_exit, unsigned int vec) {
  context__leave(1);
  return 0;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(context__hrtimer_entry, struct hrtimer* t, ktime_t* now) {
  context__enter(2);
  return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(context__hrtimer_exit, struct hrtimer* t) {
  context__leave(2);
  return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(context__timer_entry, struct timer_list* t, unsigned long baseclk) {
  context__enter(2);
  return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(context__timer_exit, struct timer_list* t) {
  context__leave(2);
  return 0;
}

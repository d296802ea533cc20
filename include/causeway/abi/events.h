/* causeway wire format: the events the BPF programs (bpf/<name>.bpf.c) write into the ring
 * buffer and src/capture decodes. The single source of truth for that format: included by
 * both the BPF side (after vmlinux.h) and C++ (with <linux/types.h>).
 *
 * Conventions: every event starts with struct cw_header. Timestamps are CLOCK_MONOTONIC
 * nanoseconds (bpf_ktime_get_ns()). pid = thread-group id, tid = kernel task id. Events
 * that carry a user stack end with a variable-length frame array: only `stack_depth`
 * frames are transmitted, so the record's length is offsetof(stack) + 8 * stack_depth.
 * All structs are naturally aligned with explicit padding; sizes are asserted below, on
 * both sides, so the two compilers cannot disagree silently. */
#ifndef CAUSEWAY_ABI_EVENTS_H
#define CAUSEWAY_ABI_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#ifdef __cplusplus
#define CW_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define CW_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define CW_COMM_LEN 16        /* TASK_COMM_LEN */
#define CW_MAX_STACK 32       /* user frames captured per stack */
#define CW_PATH_LEN 128       /* exec filename, truncated */
#define CW_MAX_SYSCALL_NR 512 /* size of the syscall filter */

/* Event kinds (cw_header.kind). */
enum cw_event_kind {
  CW_EV_CUDA_CALL = 1,    /* struct cw_cuda_call */
  CW_EV_SCHED_SWITCH = 2, /* struct cw_sched_switch */
  CW_EV_WAKEUP = 3,       /* struct cw_wakeup */
  CW_EV_FORK = 4,         /* struct cw_fork */
  CW_EV_EXEC = 5,         /* struct cw_exec */
  CW_EV_EXIT = 6,         /* struct cw_exit */
  CW_EV_SYSCALL = 7,      /* struct cw_syscall */
  CW_EV_BLOCK_IO = 8,     /* struct cw_block_io */
  CW_EV_OOM_KILL = 9,     /* struct cw_oom_kill */
  CW_EV_LIB_LOAD = 10,    /* struct cw_lib_load */
  CW_EV_PY_STACK = 11,    /* struct cw_py_stack (bpf/pystack.bpf.c) */
  CW_EV_USER_STACK = 12,  /* struct cw_user_stack (bpf/ustack.bpf.c, --call-graph dwarf) */
  CW_EV_MIGRATE = 13,     /* struct cw_migrate */
};

/* How a wakeup came (cw_wakeup.waker_ctx), judged in the waker's own context at
 * sched_waking from the CPU's preempt count and the timer-expiry hooks. */
enum cw_waker_ctx {
  CW_WAKER_UNKNOWN = 0, /* no sched_waking record: h.pid/h.tid is whoever ran at sched_wakeup */
  CW_WAKER_TASK = 1,    /* a task woke it: h.pid/h.tid */
  CW_WAKER_HARDIRQ = 2, /* a hardware interrupt handler */
  CW_WAKER_SOFTIRQ = 3, /* a softirq (network, block completion, RCU, tasklets) */
  CW_WAKER_TIMER = 4,   /* a timer expired (hrtimer or timer wheel): a timeout or sleep ended */
  CW_WAKER_NMI = 5,
};

/* Event sources, for per-source drop counters (the `drops` per-CPU array map). */
enum cw_source {
  CW_SRC_CUDA = 0,            /* uprobes on CUDA libraries */
  CW_SRC_SCHED = 1,           /* sched_switch, sched_wakeup(_new) */
  CW_SRC_PROC = 2,            /* fork / exec / exit / oom / library loads */
  CW_SRC_SYSCALL = 3,         /* raw_syscalls sys_enter / sys_exit */
  CW_SRC_BLOCKIO = 4,         /* block_rq_* */
  CW_SRC_CUDA_LOST_ENTRY = 5, /* CUDA returns whose entry record was missing (map full, */
                              /* or probes attached mid-call): not a ring drop, a gap */
  CW_SRC_STACK_COPY = 6,      /* --call-graph dwarf stack copies not made (no per-thread */
                              /* state): the event keeps its fp stack */
  CW_SRC_COUNT = 7,
};

/* BPF cookie of a CUDA probe: the function id (index into capture's function table) in
 * the low 16 bits, CW_CUDA_F_* flags above. */
#define CW_CUDA_FUNC_MASK 0xffffu
#define CW_CUDA_F_STACK_ARGS (1u << 16) /* read 3 stack-passed args (7th..9th) at entry */
#define CW_CUDA_F_ARG0_MEM (1u << 17)   /* read 40 bytes pointed to by arg 0 at entry */
#define CW_CUDA_F_OUT0 (1u << 18)       /* read the 8-byte out-param *arg0 at return */

/* cw_cuda_call.valid bits: which optional parts were read successfully. */
#define CW_CUDA_V_STACK_ARGS (1u << 0)
#define CW_CUDA_V_ARG0_MEM (1u << 1)
#define CW_CUDA_V_OUT0 (1u << 2)

struct cw_header {
  __u16 kind; /* enum cw_event_kind */
  __u16 _pad0;
  __u32 cpu;   /* CPU the event was recorded on */
  __u64 ts_ns; /* event time (for intervals: start time), CLOCK_MONOTONIC ns */
  __u32 pid;   /* thread group of the task the event is about (see each event) */
  __u32 tid;   /* task id of that task */
};
CW_STATIC_ASSERT(sizeof(struct cw_header) == 24, "cw_header size");

/* One CUDA runtime/driver call: ts_ns = entry, pid/tid = caller. Arguments are raw: the
 * meaning of args[] per function lives in src/capture/cuda_functions.cpp. */
struct cw_cuda_call {
  struct cw_header h;
  __u64 dur_ns;              /* return time - entry time, ns */
  __u32 func_id;             /* index into capture's CUDA function table (from the cookie) */
  __s32 ret;                 /* return value, low 32 bits (cudaError_t / CUresult) */
  __u64 args[6];             /* integer argument registers at entry: rdi rsi rdx rcx r8 r9 */
  __u64 stack_args[3];       /* 7th..9th arguments (from the user stack), if flagged */
  __u64 arg0_mem[5];         /* first 40 bytes at address args[0] (launch configs), if flagged */
  __u64 out0;                /* *(u64 *)args[0] read at return (allocated pointer, handle) */
  __u32 valid;               /* CW_CUDA_V_* bits */
  __u32 stack_depth;         /* number of frames in stack[] (0 when stacks are off) */
  __u64 stack[CW_MAX_STACK]; /* user return addresses, innermost first */
};
CW_STATIC_ASSERT(sizeof(struct cw_cuda_call) == 168 + 8 * CW_MAX_STACK, "cw_cuda_call size");

/* A context switch on a CPU where the outgoing or incoming task is traced.
 * h.pid/h.tid = outgoing (prev) task, h.cpu = the CPU, h.ts_ns = switch time. */
struct cw_sched_switch {
  struct cw_header h;
  __u32 next_pid;   /* incoming task's thread group */
  __u32 next_tid;   /* incoming task */
  __u32 prev_state; /* prev's __state (0 = runnable, 1 = S, 2 = D, ...) */
  __u8 preempt;     /* 1 when prev was preempted (involuntary switch) */
  __u8 prev_traced; /* prev is in the traced set */
  __u8 next_traced; /* next is in the traced set */
  __u8 _pad0;
  __s32 syscall_nr; /* syscall prev is inside of (-1 none) when it went off CPU */
  __u32 _pad1;
  __u64 syscall_ts;            /* entry time of that syscall, ns (0 when none) */
  char prev_comm[CW_COMM_LEN]; /* outgoing task's comm */
  char next_comm[CW_COMM_LEN]; /* incoming task's comm */
  __u64 cpu_seq;               /* this switch's number among all switches of h.cpu since the
                                  programs were loaded: consecutive numbers on two records mean
                                  no switch happened on that CPU between them */
  __u32 stack_depth;           /* frames in stack[]: prev's user stack, only when it blocked */
  __u32 _pad2;
  __u64 stack[CW_MAX_STACK];
};
CW_STATIC_ASSERT(sizeof(struct cw_sched_switch) == 104 + 8 * CW_MAX_STACK, "cw_sched_switch size");
/* A switch where neither task is traced is recorded only while a traced thread waits
 * (runnable) for that CPU, so that who held the CPU meanwhile is known: prev_traced and
 * next_traced are then both 0. */

/* A wakeup of a traced task, recorded at sched_wakeup(_new) (where the wakee is queued,
 * which is the wakee's CPU when that CPU is idle) with the waker taken from sched_waking,
 * which fires in the waker's own context. h.ts_ns = queue time; h.pid/h.tid = the waker
 * (waker_ctx CW_WAKER_TASK), else 0 (interrupt, timer), or for CW_WAKER_UNKNOWN the task
 * running at sched_wakeup. */
struct cw_wakeup {
  struct cw_header h;
  __u32 wakee_pid;  /* woken task's thread group */
  __u32 wakee_tid;  /* woken task */
  __s32 target_cpu; /* CPU the wakee was queued on */
  __u8 is_new;      /* 1 for sched_wakeup_new (first wakeup of a new task) */
  __u8 waker_ctx;   /* enum cw_waker_ctx */
  __u8 _pad0[2];
  char waker_comm[CW_COMM_LEN];
  char wakee_comm[CW_COMM_LEN];
  __u64 waking_ts;    /* sched_waking time, ns (0 when none was seen) */
  __u32 cpu_curr_pid; /* task on target_cpu when the wakee was queued (0 = idle/unknown) */
  __u32 cpu_curr_tid;
  __u64 cpu_seq; /* target_cpu's switch count then (0 = unknown); see cw_sched_switch */
};
CW_STATIC_ASSERT(sizeof(struct cw_wakeup) == 96, "cw_wakeup size");

/* A traced task that was waiting for a CPU (runnable) moved to another CPU's queue.
 * h.pid/h.tid = the task; h.ts_ns = when. */
struct cw_migrate {
  struct cw_header h;
  __s32 orig_cpu;
  __s32 dest_cpu;
  __u32 dest_curr_pid; /* task on dest_cpu then (0 = idle/unknown) */
  __u32 dest_curr_tid;
  __u64 dest_seq; /* dest_cpu's switch count then (0 = unknown) */
};
CW_STATIC_ASSERT(sizeof(struct cw_migrate) == 48, "cw_migrate size");

/* fork/clone by a traced task. h.pid/h.tid = parent. */
struct cw_fork {
  struct cw_header h;
  __u32 child_pid; /* child's thread group (== h.pid for a new thread) */
  __u32 child_tid; /* child task */
  char parent_comm[CW_COMM_LEN];
  char child_comm[CW_COMM_LEN];
};
CW_STATIC_ASSERT(sizeof(struct cw_fork) == 64, "cw_fork size");

/* exec by a traced task. h.pid/h.tid = the task after exec. */
struct cw_exec {
  struct cw_header h;
  __u32 old_tid; /* tid before exec (differs when a non-leader thread execs) */
  __u32 _pad0;
  char comm[CW_COMM_LEN];     /* comm after exec */
  char filename[CW_PATH_LEN]; /* path passed to exec, truncated */
};
CW_STATIC_ASSERT(sizeof(struct cw_exec) == 176, "cw_exec size");

/* Exit of a traced task. h.pid/h.tid = the exiting task. */
struct cw_exit {
  struct cw_header h;
  __s32 exit_code; /* task->exit_code: wait status style ((status << 8) | signal) */
  __u8 group_dead; /* 1 when this was the last thread of its process */
  __u8 _pad0[3];
  char comm[CW_COMM_LEN];
};
CW_STATIC_ASSERT(sizeof(struct cw_exit) == 48, "cw_exit size");

/* A system call of a traced task. h.ts_ns = entry, h.pid/h.tid = caller. */
struct cw_syscall {
  struct cw_header h;
  __u64 dur_ns;  /* exit time - entry time, ns */
  __s64 ret;     /* return value (negative errno on failure) */
  __u64 args[6]; /* raw syscall arguments */
  __s32 nr;      /* x86_64 syscall number */
  __u32 _pad0;
};
CW_STATIC_ASSERT(sizeof(struct cw_syscall) == 96, "cw_syscall size");

/* A completed block I/O request submitted on behalf of a traced task.
 * h.ts_ns = when first seen (block_io_start / insert / issue), h.pid/h.tid = submitter. */
struct cw_block_io {
  struct cw_header h;
  __u64 insert_ts;   /* block_rq_insert time, ns (0 when the request bypassed the queue) */
  __u64 issue_ts;    /* block_rq_issue time (handed to the driver), ns (0 if not seen) */
  __u64 complete_ts; /* block_rq_complete time, ns */
  __u64 sector;      /* start sector (512 bytes) */
  __u32 dev;         /* kernel dev_t: (major << 20) | minor */
  __u32 bytes;       /* request size, bytes */
  __u32 cmd_flags;   /* rq->cmd_flags; low 8 bits = REQ_OP (0 read, 1 write, 2 flush, 3 discard) */
  __s32 error;       /* completion status (blk_status_t, 0 = ok) */
};
CW_STATIC_ASSERT(sizeof(struct cw_block_io) == 72, "cw_block_io size");

/* The OOM killer chose a victim (any process). h.pid/h.tid = current task (the killer). */
struct cw_oom_kill {
  struct cw_header h;
  __u32 victim_pid;
  __u32 victim_tid;
  char victim_comm[CW_COMM_LEN];
};
CW_STATIC_ASSERT(sizeof(struct cw_oom_kill) == 48, "cw_oom_kill size");

/* The dynamic loader of a traced process changed its link map (_dl_debug_state hit): a
 * library was mapped or unmapped. h.pid/h.tid = that process/thread. When `stopped` is 1
 * the BPF program sent SIGSTOP to the process; capture attaches probes to any new CUDA
 * library and then sends SIGCONT, so no call of a freshly loaded library is missed. */
struct cw_lib_load {
  struct cw_header h;
  __u8 stopped;
  __u8 _pad0[7];
};
CW_STATIC_ASSERT(sizeof(struct cw_lib_load) == 32, "cw_lib_load size");

/* ---- Python stacks (bpf/pystack.bpf.c, src/capture/python_*.cpp) ----------------------
 * For a CPython process capture has configured (py_procs map), the CUDA entry probe and the
 * blocking path of sched_switch also emit a cw_py_stack: the interpreter frames of the
 * thread, innermost first, as raw (code object, instruction, stamp) triples that user space
 * turns into function/file/line by reading the live process. It is a separate record so that
 * the CUDA and switch layouts stay unchanged; (h.tid, h.ts_ns) equal those of the event it
 * belongs to. Variable length: offsetof(frames) + 24 * depth bytes. */
#define CW_PY_MAX_FRAMES 32

#define CW_PY_FOR_CUDA 1  /* cw_py_stack.trigger: a CUDA call (h.ts_ns = its entry time) */
#define CW_PY_FOR_BLOCK 2 /* ... a blocking sched_switch (h.ts_ns = the switch time) */

#define CW_PY_TRUNCATED (1u << 0)  /* cw_py_stack.flags: more frames than CW_PY_MAX_FRAMES */
#define CW_PY_READ_FAULT (1u << 1) /* a frame could not be read: the walk stopped there */

struct cw_py_frame {
  __u64 code;  /* address of the frame's code object (PyCodeObject *) */
  __u64 instr; /* 3.11+: the instruction pointer field (prev_instr / instr_ptr) as an
                  address; 3.10: f_lasti (instruction index, code units) */
  __u64 stamp; /* cw_py_code_stamp() of the code object when the event happened; 0 when it
                  could not be read. User space resolves the code object later, by when it
                  may have been freed and another allocated at its address (a module body
                  after its import, a notebook cell, exec'd code): a different stamp then
                  says so, and the cache is keyed by (code, stamp), not the address alone. */
};

/* The stamp covers the 32 bytes after the object header (ob_refcnt, ob_type), whose meaning
 * differs by version but never changes during a code object's life: 3.11+ ob_size (its
 * length), co_consts, co_names, co_exceptiontable; 3.10 the argument counts, co_nlocals,
 * co_stacksize, co_flags and co_firstlineno. */
#define CW_PY_STAMP_OFFSET 16
#define CW_PY_STAMP_WORDS 4
static inline __u64 cw_py_code_stamp(const __u64 w[CW_PY_STAMP_WORDS]) {
  __u64 h = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < CW_PY_STAMP_WORDS; i++) {
    h ^= w[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
  }
  return h ? h : 1; /* 0 means "not recorded" */
}

struct cw_py_stack {
  struct cw_header h; /* kind CW_EV_PY_STACK; ts_ns/pid/tid of the event it belongs to */
  __u8 trigger;       /* CW_PY_FOR_* */
  __u8 _pad0[3];
  __u32 depth;      /* frames in frames[] */
  __u32 entry_mask; /* bit i: frames[i] was entered from C (one native eval-loop call) */
  __u32 flags;      /* CW_PY_TRUNCATED, CW_PY_READ_FAULT */
  struct cw_py_frame frames[CW_PY_MAX_FRAMES];
};
CW_STATIC_ASSERT(sizeof(struct cw_py_stack) == 40 + 24 * CW_PY_MAX_FRAMES, "cw_py_stack size");

/* ---- Raw user stacks for DWARF unwinding (bpf/ustack.bpf.c, --call-graph dwarf) ---------
 * With --call-graph dwarf, the CUDA entry probe and the blocking path of sched_switch also
 * emit a cw_user_stack: a copy of the thread's user stack from %rsp upwards (at most
 * cfg_ustack_bytes, clipped at the end of the stack's mapping) and the registers an unwinder
 * starts from. User space (src/capture/dwarf_unwinder.cpp) unwinds it with the binaries'
 * .eh_frame CFI, as `perf --call-graph dwarf` does, and the frames replace the frame-pointer
 * walk of the event it belongs to. A separate record, like cw_py_stack, so the CUDA and switch
 * layouts stay unchanged; (h.tid, h.ts_ns) equal those of that event.
 * Variable length: offsetof(data) + size bytes. Return addresses replaced by a pending
 * uretprobe's trampoline (outer CUDA calls in flight) are already put back in data[]. */
#define CW_USTACK_MAX_BYTES 16384 /* largest copy (--call-graph dwarf,BYTES) */
#define CW_PAGE_BYTES 4096        /* x86-64 base page: the unit of cw_user_stack.holes */
/* Pages a copy can touch: CW_USTACK_MAX_BYTES from an address anywhere in a page. */
#define CW_USTACK_MAX_PAGES (CW_USTACK_MAX_BYTES / CW_PAGE_BYTES + 1)

#define CW_STACK_FOR_CUDA 1  /* cw_user_stack.trigger: a CUDA call (h.ts_ns = its entry) */
#define CW_STACK_FOR_BLOCK 2 /* ... a blocking sched_switch (h.ts_ns = the switch time) */

/* cw_user_stack.regs[] indices: the user registers at the event (at a CUDA call's first
 * instruction; at a blocking switch, those saved when the thread entered the kernel). */
enum cw_ustack_reg {
  CW_UREG_IP = 0,
  CW_UREG_SP = 1,
  CW_UREG_BP = 2,
  CW_UREG_BX = 3,
  CW_UREG_R12 = 4,
  CW_UREG_R13 = 5,
  CW_UREG_R14 = 6,
  CW_UREG_R15 = 7,
  CW_UREG_COUNT = 8,
};

struct cw_user_stack {
  struct cw_header h; /* kind CW_EV_USER_STACK; ts_ns/pid/tid of the event it belongs to */
  __u8 trigger;       /* CW_STACK_FOR_* */
  /* Pages of the copy that could not be read (not present: reserved by a frame but never
   * written), zero-filled in data[]. Bit i: the i-th page the copy touches, counting from the
   * page regs[SP] is in (bit 0 is never set in an emitted record). */
  __u8 holes;
  __u8 _pad0[2];
  __u32 size;                /* bytes in data[]: user memory [regs[SP], regs[SP] + size) */
  __u64 regs[CW_UREG_COUNT]; /* enum cw_ustack_reg */
  __u8 data[CW_USTACK_MAX_BYTES];
};
CW_STATIC_ASSERT(sizeof(struct cw_user_stack) == 96 + CW_USTACK_MAX_BYTES, "cw_user_stack size");

/* Per-process interpreter layout: value of the py_procs map (key: tgid), written by capture
 * once it recognised a CPython process and its version. Offsets are bytes. */
#define CW_PY_TID_NATIVE 0  /* thread_id field holds the kernel tid (native_thread_id) */
#define CW_PY_TID_PTHREAD 1 /* ... holds pthread_self(), i.e. the thread's fs base (3.10) */
#define CW_PY_INSTR_PTR 0   /* frame instr field is a pointer (3.11+) */
#define CW_PY_INSTR_LASTI 1 /* ... is an int instruction index (3.10 f_lasti) */
struct cw_py_proc {
  __u64 runtime;        /* address of _PyRuntime in the process */
  __u16 interp_head;    /* _PyRuntimeState.interpreters.head */
  __u16 interp_next;    /* PyInterpreterState.next */
  __u16 interp_threads; /* PyInterpreterState.threads.head (3.10: tstate_head) */
  __u16 ts_next;        /* PyThreadState.next */
  __u16 ts_thread_id;   /* PyThreadState.native_thread_id (3.10: thread_id) */
  __u16 ts_frame;       /* PyThreadState.frame (3.10) / .cframe (3.11, 3.12) / .current_frame */
  __s16 cframe_frame;   /* _PyCFrame.current_frame, -1 when ts_frame is the frame itself */
  __u16 fr_previous;    /* frame: previous (3.10: f_back) */
  __u16 fr_code;        /* frame: f_code / f_executable */
  __u16 fr_instr;       /* frame: prev_instr / instr_ptr / f_lasti */
  __s16 fr_owner;       /* frame: owner (char), -1 when absent (3.10) */
  __s16 fr_is_entry;    /* frame: is_entry (bool, 3.11 only), -1 when absent */
  __u8 tid_kind;        /* CW_PY_TID_* */
  __u8 instr_kind;      /* CW_PY_INSTR_* */
  __s8 owner_cstack;    /* owner value of C-stack shim frames (3.12+: 3), -1 none */
  __u8 frame_bytes;     /* bytes to read per frame (covers every field above), <= 128 */
};
CW_STATIC_ASSERT(sizeof(struct cw_py_proc) == 40, "cw_py_proc size");

/* Per CPU (value of the cpu_watch map, indexed by CPU number; one cache line each so CPUs
 * do not share lines): the switch count, the task now on it, and how many traced threads are
 * queued on it. Written by bpf/sched.bpf.c; capture reads `seq` at the end of a trace to
 * count the context switches the sched_switch tracepoint reported. */
struct cw_cpu_watch {
  __u64 seq;      /* switches on this CPU so far; written by this CPU only */
  __u32 curr_pid; /* task that took the CPU at the last switch (0 = idle) */
  __u32 curr_tid;
  __s32 waiters; /* traced threads queued here (runnable); updated atomically */
  __u32 _pad0;
  __u64 _pad1[5];
};
CW_STATIC_ASSERT(sizeof(struct cw_cpu_watch) == 64, "cw_cpu_watch size");

/* Key of the syscall-in-progress / CUDA-entry maps. */
struct cw_cuda_key {
  __u32 tid;
  __u32 func_id;
};

#endif /* CAUSEWAY_ABI_EVENTS_H */

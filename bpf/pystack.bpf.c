/* Python stacks for CPython 3.10-3.13 processes. Capture recognises a CPython process and
 * writes its interpreter layout (struct cw_py_proc) into py_procs; here the walk is
 *   tgid -> layout -> the thread's PyThreadState (cached per tid, re-validated on use)
 *        -> current frame -> previous -> ... (at most CW_PY_MAX_FRAMES)
 * and each frame contributes (code object address, instruction pointer / index, the code
 * object's stamp). Names, files and line numbers are resolved in user space from the live
 * process, once per (code object, stamp). Reads are bpf_probe_read_user of the current task: a
 * fault ends the walk and is flagged, it never produces invented frames. */
#include "pystack.bpf.h"

/* CPython processes capture configured: tgid -> layout. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct cw_py_proc);
} py_procs SEC(".maps");

/* tid -> its PyThreadState address, so the interpreter's thread list is walked once per
 * thread, not per event. Validated on every use by re-reading the thread id it holds. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u64);
} py_tstates SEC(".maps");

/* The record is built here (too big for the BPF stack), plus a buffer for one frame.
 * A uprobe program runs preemptible (only migration is disabled), so another program on
 * this CPU (a CUDA entry of another thread, a blocking switch) can start a walk while one is
 * half done: `users` lets only one walk own the buffer at a time (see pystack__emit). */
struct py_scratch {
  struct cw_py_stack ev;
  __u8 frame[128];
  __u32 users;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct py_scratch);
} py_scratch SEC(".maps");

/* Most interpreters x threads visited when looking for a thread's state. */
#define PY_MAX_THREAD_STEPS 256

/* Loops run through bpf_loop(): the verifier checks a callback once, where an unrolled or
 * bounded loop with data-dependent branches would be explored path by path. */

static __always_inline __u64 py__read_ptr(__u64 addr) {
  __u64 v = 0;
  if (bpf_probe_read_user(&v, sizeof(v), (const void*)addr) != 0) return 0;
  return v;
}

struct py_thread_walk {
  struct cw_py_proc cfg;
  __u64 want;   /* thread id value to find */
  __u64 interp; /* interpreter being walked */
  __u64 ts;     /* thread state being looked at (0: move to the next interpreter) */
  __u64 found;
};

static long py__thread_step(__u64 index, void* data) {
  struct py_thread_walk* w = data;
  if (!w->interp) return 1;
  if (!w->ts) { /* this interpreter's threads are exhausted: the next interpreter's */
    w->interp = py__read_ptr(w->interp + w->cfg.interp_next);
    w->ts = w->interp ? py__read_ptr(w->interp + w->cfg.interp_threads) : 0;
    return 0;
  }
  if (py__read_ptr(w->ts + w->cfg.ts_thread_id) == w->want) {
    w->found = w->ts;
    return 1;
  }
  w->ts = py__read_ptr(w->ts + w->cfg.ts_next);
  return 0;
}

/* The value CPython stores in the thread-id field for the current thread. */
static __always_inline __u64 py__thread_key(const struct cw_py_proc* cfg, __u32 tid) {
  if (cfg->tid_kind == CW_PY_TID_PTHREAD) {
    /* pthread_self() on x86-64 glibc is the thread's TCB, which is its fs base. */
    struct task_struct* task = bpf_get_current_task_btf();
    return BPF_CORE_READ(task, thread.fsbase);
  }
  return tid;
}

static __always_inline __u64 py__find_tstate(struct py_thread_walk* w, __u32 tid) {
  __u64* cached = bpf_map_lookup_elem(&py_tstates, &tid);
  if (cached && *cached && py__read_ptr(*cached + w->cfg.ts_thread_id) == w->want) return *cached;
  w->interp = py__read_ptr(w->cfg.runtime + w->cfg.interp_head);
  w->ts = w->interp ? py__read_ptr(w->interp + w->cfg.interp_threads) : 0;
  w->found = 0;
  bpf_loop(PY_MAX_THREAD_STEPS, py__thread_step, w, 0);
  if (w->found) bpf_map_update_elem(&py_tstates, &tid, &w->found, BPF_ANY);
  return w->found;
}

/* Field of the frame buffer at a layout offset; offsets come from capture, so bound them. */
static __always_inline __u64 py__field64(const __u8* buf, __u32 off) {
  if (off > 128 - 8) return 0;
  return *(const __u64*)(buf + off);
}
static __always_inline __u32 py__field32(const __u8* buf, __u32 off) {
  if (off > 128 - 4) return 0;
  return *(const __u32*)(buf + off);
}
static __always_inline __u8 py__field8(const __u8* buf, __u32 off) {
  if (off > 128 - 1) return 0;
  return buf[off];
}

struct py_frame_walk {
  struct cw_py_proc cfg;
  __u64 frame; /* next frame to read, 0 = done */
  __u32 n;     /* frames recorded */
  __u32 stop;
};

static long py__frame_step(__u64 index, void* data) {
  struct py_frame_walk* w = data;
  if (!w->frame) return 1;
  __u32 zero = 0;
  struct py_scratch* s = bpf_map_lookup_elem(&py_scratch, &zero);
  if (!s) return 1;
  struct cw_py_stack* e = &s->ev;
  if (w->n >= CW_PY_MAX_FRAMES) {
    e->flags |= CW_PY_TRUNCATED;
    return 1;
  }
  __u32 size = w->cfg.frame_bytes;
  if (size > sizeof(s->frame)) size = sizeof(s->frame);
  if (bpf_probe_read_user(s->frame, size & 127, (const void*)w->frame) != 0) {
    e->flags |= CW_PY_READ_FAULT;
    return 1;
  }
  __u64 code = py__field64(s->frame, w->cfg.fr_code);
  w->frame = py__field64(s->frame, w->cfg.fr_previous);
  if (w->cfg.fr_owner >= 0 && w->cfg.owner_cstack >= 0 &&
      py__field8(s->frame, (__u32)w->cfg.fr_owner) == (__u8)w->cfg.owner_cstack) {
    /* A C-stack shim (3.12+): the frame above it was entered from C. */
    if (w->n > 0) e->entry_mask |= 1u << ((w->n - 1) & 31);
    return 0;
  }
  if (!code) return 0;
  __u32 k = w->n & (CW_PY_MAX_FRAMES - 1);
  e->frames[k].code = code;
  /* The code object's stamp now, while it is surely alive (events.h). */
  __u64 words[CW_PY_STAMP_WORDS];
  e->frames[k].stamp =
      bpf_probe_read_user(words, sizeof(words), (const void*)(code + CW_PY_STAMP_OFFSET)) == 0
          ? cw_py_code_stamp(words)
          : 0;
  if (w->cfg.instr_kind == CW_PY_INSTR_LASTI) {
    e->frames[k].instr = (__u64)(__s64)(__s32)py__field32(s->frame, w->cfg.fr_instr);
    e->entry_mask |= 1u << k; /* 3.10: every frame has its own eval-loop call */
  } else {
    e->frames[k].instr = py__field64(s->frame, w->cfg.fr_instr);
  }
  if (w->cfg.fr_is_entry >= 0 && py__field8(s->frame, (__u32)w->cfg.fr_is_entry))
    e->entry_mask |= 1u << k;
  w->n++;
  return 0;
}

__noinline int pystack__emit(__u32 tgid, __u32 tid, __u64 ts, __u32 trigger) {
  struct cw_py_proc* cfg = bpf_map_lookup_elem(&py_procs, &tgid);
  if (!cfg) return 0; /* not a configured CPython process: the only cost */

  struct py_thread_walk tw = {};
  tw.cfg = *cfg;
  tw.want = py__thread_key(cfg, tid);
  __u64 tstate = py__find_tstate(&tw, tid);
  if (!tstate) return 0; /* a thread without a Python thread state: no Python stack */
  __u64 frame = py__read_ptr(tstate + tw.cfg.ts_frame);
  if (frame && tw.cfg.cframe_frame >= 0) frame = py__read_ptr(frame + (__u32)tw.cfg.cframe_frame);
  if (!frame) return 0;

  __u32 zero = 0;
  struct py_scratch* s = bpf_map_lookup_elem(&py_scratch, &zero);
  if (!s) return 0;
  /* Claim the buffer: proceed only if this walk's increment is the only one. The loser (the
   * walk that interrupted, or both in a tie) backs off and counts a drop; it never writes
   * into a record being built. Plain atomic adds, since fetch-and-add needs BPF ISA v3. */
  const __u32 source = trigger == CW_PY_FOR_CUDA ? CW_SRC_CUDA : CW_SRC_SCHED;
  __sync_fetch_and_add(&s->users, 1);
  if (*(volatile __u32*)&s->users != 1) {
    __sync_fetch_and_add(&s->users, -1);
    drops__count(source);
    return 0;
  }
  struct cw_py_stack* e = &s->ev;
  header__fill(&e->h, CW_EV_PY_STACK, ts, tgid, tid);
  e->trigger = trigger;
  e->_pad0[0] = e->_pad0[1] = e->_pad0[2] = 0;
  e->entry_mask = 0;
  e->flags = 0;

  struct py_frame_walk fw = {};
  fw.cfg = tw.cfg;
  fw.frame = frame;
  /* Shims take a step but no slot, hence twice the frame budget. */
  bpf_loop(CW_PY_MAX_FRAMES * 2, py__frame_step, &fw, 0);
  __u32 n = fw.n;
  if (n > 0 && n <= CW_PY_MAX_FRAMES) {
    e->depth = n;
    __u64 bytes = sizeof(*e) - sizeof(e->frames) + (__u64)n * sizeof(e->frames[0]);
    if (bytes > sizeof(*e)) bytes = sizeof(*e);
    if (bpf_ringbuf_output(&events, e, bytes, ring__wakeup_flags()) != 0) drops__count(source);
  }
  __sync_fetch_and_add(&s->users, -1);
  return 0;
}

/* CUDA runtime and driver calls: one uprobe at entry, one uretprobe at return, attached by
 * capture to every probed symbol of every CUDA library a traced process maps. The BPF cookie
 * says which function (and which extra arguments to read); the pipeline is
 *   entry:  cuda__enter -> record args (+ stack) in the thread's in-flight slots
 *   return: cuda__exit  -> complete the record (duration, return value, out-param) -> ring
 * Arguments are copied raw; their meaning per function is decoded in user space.
 *
 * Why task storage and not a hash map keyed by (tid, function): the uprobe pair itself costs
 * ~1.6 us here, and the target is at most 30% on top of it. A hash (LRU) map costs an
 * update, two lookups and a delete per call, with locking; task-local storage is a pointer
 * off the current task, created once per thread, with no locks on the hot path. */
#include "causeway.bpf.h"
#include "pystack.bpf.h"
#include "ustack.bpf.h"

/* Calls a thread can have in flight at once: the runtime calls the driver (2 levels), a
 * library callback may nest one more. Power of two: slots are used as a ring. */
#define CW_CUDA_NEST 4

/* Per thread: the calls in flight, innermost at depth - 1. depth only grows on entry and
 * shrinks on a matching return; slots are used modulo CW_CUDA_NEST, so entries whose return
 * never comes (longjmp/exception out of a call, which the kernel's uretprobe drops) are
 * overwritten instead of filling the thread's slots for good. */
struct cw_cuda_inflight {
  __u32 depth;
  __u32 _pad0;
  struct cw_cuda_call calls[CW_CUDA_NEST];
};

struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* required for task storage: created on first call */
  __type(key, int);
  __type(value, struct cw_cuda_inflight);
} cuda_inflight SEC(".maps");

/* Whether the calling process is traced; under --all a first CUDA call enrols it. */
static __always_inline bool cuda__should_trace(__u32 tgid) {
  if (tgid__is_traced(tgid)) return true;
  if (!cfg_trace_all_cuda || tgid == cfg_tracer_tgid) return false;
  __u8 one = 1;
  bpf_map_update_elem(&traced_tgids, &tgid, &one, BPF_NOEXIST);
  return true;
}

SEC("uprobe")
int BPF_KPROBE(cuda__enter) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  struct task_struct* task = bpf_get_current_task_btf();
  /* A thread with in-flight slots passed the traced check before (they are only created
   * below), so the hash lookup is paid once per thread, not per call. */
  struct cw_cuda_inflight* f = bpf_task_storage_get(&cuda_inflight, task, 0, 0);
  if (!f) {
    if (!cuda__should_trace(tgid)) return 0;
    f = bpf_task_storage_get(&cuda_inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!f) {
      drops__count(CW_SRC_CUDA_LOST_ENTRY);
      return 0;
    }
  }
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u32 depth = f->depth;
  struct cw_cuda_call* e = &f->calls[depth & (CW_CUDA_NEST - 1)];
  const __u64 ts = bpf_ktime_get_ns();
  header__fill(&e->h, CW_EV_CUDA_CALL, ts, tgid, tid);
  e->func_id = cookie & CW_CUDA_FUNC_MASK;
  e->args[0] = PT_REGS_PARM1(ctx);
  e->args[1] = PT_REGS_PARM2(ctx);
  e->args[2] = PT_REGS_PARM3(ctx);
  e->args[3] = PT_REGS_PARM4(ctx);
  e->args[4] = PT_REGS_PARM5(ctx);
  e->args[5] = ctx->r9;
  e->valid = 0;
  e->out0 = 0;
  /* Only the functions whose cookie asks for them pay for user-memory reads. */
  if (cookie & CW_CUDA_F_STACK_ARGS) {
    /* At the first instruction [rsp] is the return address; the 7th argument follows. */
    if (bpf_probe_read_user(e->stack_args, sizeof(e->stack_args), (void*)(PT_REGS_SP(ctx) + 8)) ==
        0)
      e->valid |= CW_CUDA_V_STACK_ARGS;
  }
  if ((cookie & CW_CUDA_F_ARG0_MEM) && e->args[0]) {
    if (bpf_probe_read_user(e->arg0_mem, sizeof(e->arg0_mem), (void*)e->args[0]) == 0)
      e->valid |= CW_CUDA_V_ARG0_MEM;
  }
  e->stack_depth = 0;
  if (cfg_capture_stacks) {
    /* The frame-pointer walk is done in both --call-graph modes: with dwarf it is the
     * fallback when the copied stack cannot be unwound (the process is gone). */
    e->stack_depth = ustack__walk((struct cw_ustack_frames*)e->stack, PT_REGS_IP(ctx),
                                  PT_REGS_SP(ctx), PT_REGS_FP(ctx), 1);
    if (cfg_ustack_bytes) {
      struct cw_ustack_regs r = {.r = {PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx), ctx->bx,
                                       ctx->r12, ctx->r13, ctx->r14, ctx->r15}};
      ustack__emit(&r, ts, CW_STACK_FOR_CUDA);
    }
  }
  f->depth = depth + 1;
  pystack__emit(tgid, tid, ts, CW_PY_FOR_CUDA); /* Python frames, if a CPython process */
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(cuda__exit) {
  /* No traced-set check: only a traced entry creates the thread's slots, and an untraced
   * thread has no task storage, which is the cheapest possible miss. */
  struct cw_cuda_inflight* f =
      bpf_task_storage_get(&cuda_inflight, bpf_get_current_task_btf(), 0, 0);
  if (!f) return 0;
  const __u64 now = bpf_ktime_get_ns();
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u32 func_id = cookie & CW_CUDA_FUNC_MASK;
  __u32 depth = f->depth;
  /* The innermost call in flight of this function; anything above it lost its return. */
  struct cw_cuda_call* e = 0;
  for (__u32 i = 1; i <= CW_CUDA_NEST; i++) {
    if (depth < i) break;
    struct cw_cuda_call* c = &f->calls[(depth - i) & (CW_CUDA_NEST - 1)];
    if (c->func_id == func_id) {
      e = c;
      f->depth = depth - i;
      break;
    }
  }
  if (!e) {
    drops__count(CW_SRC_CUDA_LOST_ENTRY);
    return 0;
  }
  e->dur_ns = now - e->h.ts_ns;
  e->ret = (__s32)PT_REGS_RC(ctx);
  if ((cookie & CW_CUDA_F_OUT0) && e->args[0]) {
    if (bpf_probe_read_user(&e->out0, sizeof(e->out0), (void*)e->args[0]) == 0)
      e->valid |= CW_CUDA_V_OUT0;
  }
  __u32 frames = e->stack_depth;
  if (frames > CW_MAX_STACK) frames = CW_MAX_STACK;
  __u64 size = sizeof(*e) - sizeof(e->stack) + (__u64)frames * 8;
  if (bpf_ringbuf_output(&events, e, size, ring__wakeup_flags()) != 0) drops__count(CW_SRC_CUDA);
  return 0;
}

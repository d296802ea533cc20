/* CUDA runtime and driver calls: one uprobe at entry, one uretprobe at return, attached by
 * capture to every probed symbol of every CUDA library a traced process maps. The BPF cookie
 * says which function (and which extra arguments to read); the pipeline is
 *   entry:  cuda__enter -> record args (+ stack) in cuda_inflight[tid, func]
 *   return: cuda__exit  -> complete the record (duration, return value, out-param) -> ring
 * Arguments are copied raw; their meaning per function is decoded in user space. */
#include "causeway.bpf.h"

/* Calls in flight: (tid, function) -> the event being built. Keyed by function too because
 * the runtime calls the driver, so a thread has nested calls in flight. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH); /* calls that never return (thread exit, longjmp) age out */
  __uint(max_entries, 16384);
  __type(key, struct cw_cuda_key);
  __type(value, struct cw_cuda_call);
} cuda_inflight SEC(".maps");

/* Zeroed template to create map entries without a large stack object. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cw_cuda_call);
} cuda_scratch SEC(".maps");

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
  if (!cuda__should_trace(tgid)) return 0;

  __u64 cookie = bpf_get_attach_cookie(ctx);
  struct cw_cuda_key key = {.tid = tid, .func_id = cookie & CW_CUDA_FUNC_MASK};
  __u32 zero = 0;
  struct cw_cuda_call* tmpl = bpf_map_lookup_elem(&cuda_scratch, &zero);
  if (!tmpl) return 0;
  if (bpf_map_update_elem(&cuda_inflight, &key, tmpl, BPF_ANY) != 0) {
    drops__count(CW_SRC_CUDA_LOST_ENTRY);
    return 0;
  }
  struct cw_cuda_call* e = bpf_map_lookup_elem(&cuda_inflight, &key);
  if (!e) return 0;

  header__fill(&e->h, CW_EV_CUDA_CALL, bpf_ktime_get_ns(), tgid, tid);
  e->func_id = key.func_id;
  e->args[0] = PT_REGS_PARM1(ctx);
  e->args[1] = PT_REGS_PARM2(ctx);
  e->args[2] = PT_REGS_PARM3(ctx);
  e->args[3] = PT_REGS_PARM4(ctx);
  e->args[4] = PT_REGS_PARM5(ctx);
  e->args[5] = ctx->r9;
  e->valid = 0;
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
    long n = bpf_get_stack(ctx, e->stack, sizeof(e->stack), BPF_F_USER_STACK);
    if (n > 0) e->stack_depth = n / 8;
  }
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(cuda__exit) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  if (!tgid__is_traced(tgid)) return 0;

  __u64 cookie = bpf_get_attach_cookie(ctx);
  struct cw_cuda_key key = {.tid = tid, .func_id = cookie & CW_CUDA_FUNC_MASK};
  struct cw_cuda_call* e = bpf_map_lookup_elem(&cuda_inflight, &key);
  if (!e) {
    drops__count(CW_SRC_CUDA_LOST_ENTRY);
    return 0;
  }
  e->dur_ns = bpf_ktime_get_ns() - e->h.ts_ns;
  e->ret = (__s32)PT_REGS_RC(ctx);
  if ((cookie & CW_CUDA_F_OUT0) && e->args[0]) {
    if (bpf_probe_read_user(&e->out0, sizeof(e->out0), (void*)e->args[0]) == 0)
      e->valid |= CW_CUDA_V_OUT0;
  }
  __u32 depth = e->stack_depth;
  if (depth > CW_MAX_STACK) depth = CW_MAX_STACK;
  __u64 size = sizeof(*e) - sizeof(e->stack) + (__u64)depth * 8;
  if (bpf_ringbuf_output(&events, e, size, ring__wakeup_flags()) != 0) drops__count(CW_SRC_CUDA);
  bpf_map_delete_elem(&cuda_inflight, &key);
  return 0;
}

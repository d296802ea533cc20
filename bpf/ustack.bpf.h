/* User stacks: the frame-pointer walk (both --call-graph modes) and raw stack copies for DWARF
 * unwinding (--call-graph dwarf), the entry points the CUDA and scheduler programs call
 * (defined in ustack.bpf.c, linked into the same skeleton). */
#ifndef CAUSEWAY_USTACK_BPF_H
#define CAUSEWAY_USTACK_BPF_H

#include "causeway.bpf.h"

/* Bytes of user stack copied per event (--call-graph dwarf[,BYTES]), a multiple of 8 and at
 * most CW_USTACK_MAX_BYTES; 0 = frame pointers only (no cw_user_stack records). */
extern const volatile __u32 cfg_ustack_bytes;

/* First address above user space on x86-64 (4-level paging: 47-bit user addresses; 5-level
 * tables put user space below 2^56, still under this bound for the check it is used for). */
#define CW_USER_ADDR_END (1ull << 56)

/* The user registers an unwinder starts from, indexed by enum cw_ustack_reg. */
struct cw_ustack_regs {
  __u64 r[CW_UREG_COUNT];
};

/* The frame-pointer walk of the current task's user stack, shared by the CUDA probes and the
 * scheduler (see ustack.bpf.c): writes up to CW_MAX_STACK return addresses, innermost first,
 * to out->f and returns how many. A global function: verified once, on its own. */
struct cw_ustack_frames {
  __u64 f[CW_MAX_STACK];
};
extern __u32 ustack__walk(struct cw_ustack_frames* out, __u64 ip, __u64 sp, __u64 fp,
                          __u32 at_entry);

/* Emits a CW_EV_USER_STACK record for the current thread: `regs` and a copy of its stack
 * from regs->r[CW_UREG_SP] upwards, tagged with the (tid, ts) of the event it belongs to.
 * trigger: CW_STACK_FOR_CUDA / CW_STACK_FOR_BLOCK; its drops are counted under the matching
 * source. Must run in the context of that thread. A global function: verified once, on its
 * own, not inlined into each caller. */
extern int ustack__emit(const struct cw_ustack_regs* regs, __u64 ts, __u32 trigger);

#endif /* CAUSEWAY_USTACK_BPF_H */
